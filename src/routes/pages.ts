import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Request, type RequestHandler } from 'express';
import { NotFoundError } from '../errors';
import type { Views } from '../views';
import { pageContext, pageLocale } from './locale';

const PUBLIC_DIR = join(__dirname, '..', '..', 'public');
const WEEK_SECONDS = 7 * 24 * 3600;

/** Small files every page may ask for (favicon, the console's copy button), read once, cached by browsers. */
export function publicFiles(): Router {
  const router = Router();
  const files: [string, string, string][] = [
    ['/favicon.ico', 'favicon.ico', 'image/x-icon'],
    ['/console/assets/console.js', 'console.js', 'text/javascript; charset=utf-8'],
  ];
  for (const [path, file, type] of files) {
    const body = readFileSync(join(PUBLIC_DIR, file));
    router.get(path, (_req, res) => {
      res.set('Cache-Control', `public, max-age=${WEEK_SECONDS}`).type(type).send(body);
    });
  }
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
      res.status(404).set('Cache-Control', 'no-store').type('html').send(views.render('not-found', pageContext(res), { path: req.path }));
    },
  ];
}
