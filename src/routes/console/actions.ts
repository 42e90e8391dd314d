import { Router, type Response } from 'express';
import { NotFoundError } from '../../errors';
import type { ConsoleService } from '../../services/console-service';
import { sendConsolePage, type ConsoleView } from './render';
import { CONSOLE_PATH, sessionOf, type SessionCookies } from './session';

const APPID_RE = /^wx[A-Za-z0-9]{6,32}$/;

function operator(res: Response): string {
  return sessionOf(res)?.operator ?? 'unknown';
}

/** The console's actions (POST, CSRF-checked before they get here), each one audit-logged by the service. */
export function consoleActions(deps: { service: ConsoleService; view: ConsoleView; sessions: SessionCookies }): Router {
  const { service, view, sessions } = deps;
  const router = Router();

  router.post('/accounts/:appid/refresh', async (req, res) => {
    const { appid } = req.params;
    if (!APPID_RE.test(appid)) throw new NotFoundError(`account ${appid.slice(0, 40)} is not known`);
    await service.refreshNow(appid, operator(res));
    // Post/redirect/get: reloading the page does not refresh again.
    res.redirect(303, `${CONSOLE_PATH}/accounts/${encodeURIComponent(appid)}?refreshed=1`);
  });

  router.post('/recovery', async (req, res) => {
    const report = await service.runRecovery(operator(res));
    sendConsolePage(view, req, res, 'console/recovery', 'recovery', { report });
  });

  router.post('/logout', (req, res) => {
    service.audit(operator(res), 'logout', {});
    sessions.end(req, res);
    res.redirect(303, `${CONSOLE_PATH}/login`);
  });

  return router;
}
