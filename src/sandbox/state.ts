/**
 * WeChat's side of the authorization relationship, as the emulator models it: who is authorized, which codes and
 * tokens are live, and the rules that turn misuse into WeChat's errcodes (shared/docs/protocol.md §4.3, §4.4, §6).
 * Pushes are not made here (see context.ts): this module only changes and answers state.
 */
import { AccountDirectory, releaseTestFakeAccounts, type FakeAccount } from './accounts';
import { AuthorizationBook } from './authorizations';
import { CodeBook } from './codes';
import type { ResolvedOptions } from './options';
import { TicketBook } from './tickets';
import { TokenBook } from './tokens';
import { WxApiError } from './wx-errors';

/** A handle or control-API misuse (unknown appid, revoking what is not authorized): not a WeChat errcode. */
export class SandboxError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

export interface Grant {
  authCode: string;
  expiresIn: number;
  infoType: 'authorized' | 'updateauthorized';
  preAuthCode: string;
}

export function funcInfoBody(ids: readonly number[]): Array<{ funcscope_category: { id: number } }> {
  return ids.map((id) => ({ funcscope_category: { id } }));
}

export class SandboxState {
  readonly accounts: AccountDirectory;
  readonly tokens: TokenBook;
  readonly tickets: TicketBook;
  readonly preAuthCodes: CodeBook<true>;
  readonly authCodes: CodeBook<{ appid: string }>;
  readonly authorizations = new AuthorizationBook();
  rotateRefreshTokens = false;

  constructor(private readonly options: ResolvedOptions) {
    const { clock } = options;
    this.accounts = new AccountDirectory(options.accounts, releaseTestFakeAccounts());
    this.tokens = new TokenBook(clock, options.tokenLifetimeSeconds, options.graceSeconds);
    this.tickets = new TicketBook(clock, options.ticketLifetimeSeconds);
    this.preAuthCodes = new CodeBook(clock, options.preAuthCodeLifetimeSeconds, 'preauthcode@@@');
    this.authCodes = new CodeBook(clock, options.authCodeLifetimeSeconds, 'queryauthcode@@@');
  }

  requireAccount(appid: string): FakeAccount {
    const account = this.accounts.get(appid);
    if (!account) throw new SandboxError(404, `no fake account with appid ${appid}`);
    return account;
  }

  /**
   * The effects of an admin confirming on the authorization page. Re-authorizing issues a new refresh token and
   * drops the old one together with every access token of the account, like WeChat's re-authorization does.
   */
  grant(appid: string, opts: { preAuthCode?: string; funcInfo?: number[] } = {}): Grant {
    const account = this.requireAccount(appid);
    const nowSeconds = Math.floor(this.options.clock.now() / 1000);
    const { wasAuthorized } = this.authorizations.authorize(appid, opts.funcInfo ?? account.funcInfo, nowSeconds);
    if (wasAuthorized) this.tokens.invalidateOwner('authorizer', appid);
    // A programmatic authorization has no page visit: issue and spend a pre-auth code so the push still names one.
    let preAuthCode = opts.preAuthCode;
    if (preAuthCode === undefined) {
      preAuthCode = this.preAuthCodes.issue(true).code;
      this.preAuthCodes.consume(preAuthCode);
    }
    const { code, expiresIn } = this.authCodes.issue({ appid });
    return { authCode: code, expiresIn, infoType: wasAuthorized ? 'updateauthorized' : 'authorized', preAuthCode };
  }

  /** Revocation: refresh token (61023 from now on) and access tokens (40001) stop working at once. */
  revoke(appid: string): void {
    this.requireAccount(appid);
    if (!this.authorizations.revoke(appid)) throw new SandboxError(409, `${appid} is not authorized`);
    this.tokens.invalidateOwner('authorizer', appid);
  }

  /** api_query_auth: spends the code and hands out the first authorizer_access_token. */
  queryAuth(code: string): Record<string, unknown> {
    const found = this.authCodes.consume(code);
    if (!found.ok) throw new WxApiError(found.reason === 'expired' ? 61010 : 61009);
    const { appid } = found.value;
    const state = this.authorizations.get(appid);
    // The account revoked after the code was issued: the code no longer stands for an authorization.
    if (!state?.authorized || !state.refreshToken) throw new WxApiError(61009);
    const { token, expiresIn } = this.tokens.issue('authorizer', appid);
    this.authorizations.markQueried(appid);
    return {
      authorizer_appid: appid,
      authorizer_access_token: token,
      expires_in: expiresIn,
      authorizer_refresh_token: state.refreshToken,
      func_info: funcInfoBody(state.funcInfo),
    };
  }

  /**
   * api_authorizer_token. 61023 for any refresh token this emulator issued that is not the account's current one
   * (revoked, replaced by re-authorization or rotation, or another account's); 61003 when the account is not
   * authorized at all and the token was never issued here.
   */
  refreshAuthorizerToken(appid: string, refreshToken: string): Record<string, unknown> {
    const owner = this.authorizations.refreshTokenOwner(refreshToken);
    if (owner?.current && owner.appid === appid) {
      const { token, expiresIn } = this.tokens.issue('authorizer', appid);
      const next = this.rotateRefreshTokens ? this.authorizations.rotateRefreshToken(appid) : refreshToken;
      return { authorizer_access_token: token, expires_in: expiresIn, authorizer_refresh_token: next };
    }
    if (owner === undefined && !this.authorizations.isAuthorized(appid)) throw new WxApiError(61003);
    throw new WxApiError(61023);
  }

  /** For endpoints that need a currently authorized account. */
  requireAuthorized(appid: string): void {
    if (!this.authorizations.isAuthorized(appid)) throw new WxApiError(61003);
  }
}
