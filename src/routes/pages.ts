import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Request, type RequestHandler } from 'express';
import { NotFoundError } from '../errors';
import type { Views } from '../views';
import { pageContext, pageLocale } from './locale';

const PUBLIC_DIR = join(__dirname, '..', '..', 'public');
const WEEK_SECONDS = 7 * 24 * 3600;

/** A small file of public/, read once, cached by browsers for a week. */
export function publicFile(file: string, type: string): RequestHandler {
  const body = readFileSync(join(PUBLIC_DIR, file));
  return (_req, res) => {
    res.set('Cache-Control', `public, max-age=${WEEK_SECONDS}`).type(type).send(body);
  };
}

/** What every page may ask for: the favicon. (The console serves its own script, routes/console.) */
export function publicFiles(): Router {
  const router = Router();
  router.get('/favicon.ico', publicFile('favicon.ico', 'image/x-icon'));
  return router;
}

/** People (browsers ask for text/html) get a page; programs, and everything under /internal, get JSON. */
export function wantsPage(req: Request): boolean {
  return !req.path.startsWith('/internal') && (req.get('accept') ?? '').includes('text/html');
}

/** The last route: a friendly page for people, the JSON error (app.ts error handler) for programs. */
export function notFound(views: Views): RequestHandler[] {
  return [
    (req, _res, next) => (wantsPage(req) ? next() : next(new NotFoundError(`no route for ${req.method} ${req.path}`))),
    pageLocale(),
    (req, res) => {
      res
        .status(404)
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(views.render('not-found', pageContext(res), { path: req.path }));
    },
  ];
}
