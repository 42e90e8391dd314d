import { Router } from 'express';
import { NotFoundError } from '../../errors';
import type { ConsoleService } from '../../services/console-service';
import { sendConsolePage, type ConsoleView } from './render';

const APPID_RE = /^wx[A-Za-z0-9]{6,32}$/;

/** The console's read-only pages: overview, account list, one account, recovery. */
export function consolePages(deps: { service: ConsoleService; view: ConsoleView }): Router {
  const { service, view } = deps;
  const router = Router();

  router.get('/', async (req, res) => {
    sendConsolePage(view, req, res, 'console/overview', 'overview', { overview: await service.overview() });
  });

  router.get('/accounts', async (req, res) => {
    const text = typeof req.query.q === 'string' ? req.query.q : '';
    const page = typeof req.query.page === 'string' ? Number(req.query.page) : 1;
    sendConsolePage(view, req, res, 'console/accounts', 'accounts', {
      list: await service.listAccounts({ text, page }),
    });
  });

  router.get('/accounts/:appid', async (req, res) => {
    const { appid } = req.params;
    const account = APPID_RE.test(appid) ? await service.account(appid) : undefined;
    if (!account) throw new NotFoundError(`account ${appid.slice(0, 40)} is not known`);
    sendConsolePage(view, req, res, 'console/account', 'accounts', { account, refreshed: req.query.refreshed === '1' });
  });

  router.get('/recovery', (req, res) => {
    sendConsolePage(view, req, res, 'console/recovery', 'recovery');
  });

  return router;
}
