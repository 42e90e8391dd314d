import type { Request, Response } from 'express';
import type { ViewName, Views } from '../../views';
import { pageContext } from '../locale';
import type { ConsoleCsrf } from './csrf';
import { CONSOLE_PATH, sessionOf } from './session';

export interface ConsoleView {
  readonly views: Views;
  readonly csrf: ConsoleCsrf;
}

export type ConsoleSection = 'overview' | 'accounts' | 'recovery' | 'login';

/** A console page: the operator, the section for the navigation, a fresh CSRF token for its forms. */
export function sendConsolePage(
  view: ConsoleView,
  req: Request,
  res: Response,
  name: ViewName,
  section: ConsoleSection,
  data: Record<string, unknown> = {},
  status = 200,
): void {
  const html = view.views.render(name, pageContext(res), {
    wide: true,
    consolePath: CONSOLE_PATH,
    section,
    operator: sessionOf(res)?.operator,
    csrfToken: view.csrf.token(req, res),
    ...data,
  });
  res.status(status).type('html').send(html);
}
