/** Driving the authorization page over real HTTP like a browser would (explicit Referer, manual redirects). */
import { api, CREDS, type Harness } from './helpers';

export const SERVICE = 'http://localhost:3000';

export async function preAuthCode(h: Harness, token: string): Promise<string> {
  const res = await api(h, 'api_create_preauthcode', { component_appid: CREDS.componentAppId }, token);
  return res.json.pre_auth_code as string;
}

export interface PageOptions {
  path?: string;
  referer?: string | null;
  redirectUri?: string;
  query?: Record<string, string>;
}

export interface Page {
  status: number;
  html: string;
  session?: string;
  accounts: string[];
}

export async function loadPage(h: Harness, code: string, opts: PageOptions = {}): Promise<Page> {
  const query = new URLSearchParams({
    component_appid: CREDS.componentAppId,
    pre_auth_code: code,
    redirect_uri: opts.redirectUri ?? `${SERVICE}/auth`,
    ...(opts.query ?? {}),
  });
  const headers: Record<string, string> = {};
  const referer = opts.referer === undefined ? `${SERVICE}/authorize` : opts.referer;
  if (referer !== null) headers.Referer = referer;
  const res = await fetch(`${h.base}${opts.path ?? '/cgi-bin/componentloginpage'}?${query}`, {
    headers,
    redirect: 'manual',
  });
  const html = await res.text();
  return {
    status: res.status,
    html,
    session: /name="session" value="([^"]+)"/.exec(html)?.[1],
    accounts: [...html.matchAll(/<li data-account="([^"]+)"/g)].map((m) => m[1] as string),
  };
}

export async function confirm(
  h: Harness,
  session: string,
  appid: string,
): Promise<{ status: number; location: string | null; html: string }> {
  const res = await fetch(`${h.base}/cgi-bin/componentloginpage/confirm`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ session, appid }).toString(),
    redirect: 'manual',
  });
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}
