/**
 * Which fake accounts have authorized the platform, with their authorizer_refresh_token, granted permission sets
 * and options. A refresh token lives until the account re-authorizes or revokes (protocol.md §4.3, §4.4).
 * Only touched accounts get a record, and every lookup is a Map hit, so 100 000 accounts stay cheap.
 */
import { randomBytes } from 'node:crypto';

export interface AuthorizerState {
  authorized: boolean;
  /** Set by the first successful api_query_auth; from then on api_get_authorizer_list shows the refresh token. */
  everQueried: boolean;
  refreshToken?: string;
  /** Unix seconds of the latest authorization. */
  authTime: number;
  funcInfo: number[];
  options?: Map<string, string>;
}

export type RefreshTokenOwner = { appid: string; current: boolean };

// Retired refresh tokens are remembered (to tell "issued here, since invalidated" from "never issued") up to this
// many; rotation on every refresh would otherwise grow the set without bound.
const MAX_RETIRED = 200_000;

export class AuthorizationBook {
  private readonly states = new Map<string, AuthorizerState>();
  private readonly currentRefresh = new Map<string, string>();
  private readonly retiredRefresh = new Map<string, string>();
  // api_get_authorizer_list pages by offset: an array in first-authorization order, with holes left by revocations
  // and compacted lazily, keeps a page O(count) instead of walking every authorizer before the offset.
  private order: Array<string | undefined> = [];
  private readonly position = new Map<string, number>();
  private holes = 0;

  get(appid: string): AuthorizerState | undefined {
    return this.states.get(appid);
  }

  isAuthorized(appid: string): boolean {
    return this.states.get(appid)?.authorized === true;
  }

  get authorizedCount(): number {
    return this.position.size;
  }

  /** (Re-)authorizes: a new refresh token every time, the previous one stops working. */
  authorize(appid: string, funcInfo: number[], nowSeconds: number): { wasAuthorized: boolean; refreshToken: string } {
    const existing = this.states.get(appid);
    const wasAuthorized = existing?.authorized === true;
    const refreshToken = this.newRefreshToken(appid, existing?.refreshToken);
    const state: AuthorizerState = existing ?? { authorized: true, everQueried: false, authTime: nowSeconds, funcInfo };
    state.authorized = true;
    state.refreshToken = refreshToken;
    state.authTime = nowSeconds;
    state.funcInfo = funcInfo;
    this.states.set(appid, state);
    if (!this.position.has(appid)) {
      this.position.set(appid, this.order.length);
      this.order.push(appid);
    }
    return { wasAuthorized, refreshToken };
  }

  /** Returns false when the account was not authorized. */
  revoke(appid: string): boolean {
    const state = this.states.get(appid);
    if (!state?.authorized) return false;
    state.authorized = false;
    if (state.refreshToken) this.retire(state.refreshToken, appid);
    state.refreshToken = undefined;
    const at = this.position.get(appid);
    if (at !== undefined) {
      this.order[at] = undefined;
      this.position.delete(appid);
      this.holes++;
    }
    return true;
  }

  markQueried(appid: string): void {
    const state = this.states.get(appid);
    if (state) state.everQueried = true;
  }

  /** Replaces the refresh token of an authorized account (the rotation switch). */
  rotateRefreshToken(appid: string): string {
    const state = this.states.get(appid);
    if (!state?.authorized) throw new Error(`${appid} is not authorized`);
    state.refreshToken = this.newRefreshToken(appid, state.refreshToken);
    return state.refreshToken;
  }

  refreshTokenOwner(token: string): RefreshTokenOwner | undefined {
    const current = this.currentRefresh.get(token);
    if (current !== undefined) return { appid: current, current: true };
    const retired = this.retiredRefresh.get(token);
    return retired === undefined ? undefined : { appid: retired, current: false };
  }

  /** Authorized appids in first-authorization order. */
  page(offset: number, count: number): string[] {
    if (this.holes > 0) {
      this.order = this.order.filter((appid) => appid !== undefined);
      this.order.forEach((appid, index) => this.position.set(appid as string, index));
      this.holes = 0;
    }
    return this.order.slice(offset, offset + count) as string[];
  }

  private newRefreshToken(appid: string, previous: string | undefined): string {
    if (previous) this.retire(previous, appid);
    const token = `refreshtoken@@@${randomBytes(33).toString('base64url')}`;
    this.currentRefresh.set(token, appid);
    return token;
  }

  private retire(token: string, appid: string): void {
    this.currentRefresh.delete(token);
    this.retiredRefresh.set(token, appid);
    if (this.retiredRefresh.size > MAX_RETIRED) {
      this.retiredRefresh.delete(this.retiredRefresh.keys().next().value as string);
    }
  }
}
