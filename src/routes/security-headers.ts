import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config';

/**
 * Helmet's defaults, with two deliberate changes for WeChat's authorization page:
 * - `Referrer-Policy: origin`: WeChat refuses the page unless the browser sends a
 *   Referer from the registered domain ("授权入口页所在域名：空" otherwise); helmet's
 *   default `no-referrer` would cause exactly that.
 * - `form-action` allows WeChat's authorization origins, because the authorize form's
 *   GET /auth answers with a redirect there, and CSP checks redirects of form submissions.
 */
export function securityHeaders(config: Config): RequestHandler {
  const wechatOrigins = [config.wechat.loginPageUrl, config.wechat.mobileLoginPageUrl].map((u) => new URL(u).origin);
  return helmet({
    referrerPolicy: { policy: 'origin' },
    contentSecurityPolicy: {
      directives: {
        'form-action': ["'self'", ...new Set(wechatOrigins)],
        'upgrade-insecure-requests': null,
      },
    },
    // Plain-HTTP demo deployments (the sandbox) must keep working; TLS is the proxy's job.
    strictTransportSecurity: config.publicBaseUrl.startsWith('https://'),
  });
}
