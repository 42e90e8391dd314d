import type { Express } from 'express';
import request from 'supertest';
import { hashPassword } from '../../src/password-hash';
import type { AuthorizerStore } from '../../src/store/authorizer-store';
import { generateAccounts } from '../../src/sandbox/emulator';

export const OPERATOR = 'ops';
export const OPERATOR_PASSWORD = 'correct horse battery staple';
export const SESSION_SECRET = 'console-session-secret-for-tests-0123456789';

let cachedHash: string | undefined;

/** The console's environment: one operator (the scrypt hash is made once per test file). */
export async function consoleEnv(): Promise<Record<string, string>> {
  cachedHash ??= await hashPassword(OPERATOR_PASSWORD);
  return { CONSOLE_USERS: `${OPERATOR}:${cachedHash}`, CONSOLE_SESSION_SECRET: SESSION_SECRET };
}

/** The form's CSRF token on a console page (every form has the same one). */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field on the page');
  return m[1] as string;
}

/** A supertest agent (it keeps cookies) signed in as the operator. */
export async function signedIn(app: Express, password = OPERATOR_PASSWORD): Promise<ReturnType<typeof request.agent>> {
  const agent = request.agent(app);
  const form = await agent.get('/console/login').expect(200);
  await agent
    .post('/console/login')
    .type('form')
    .send({ _csrf: csrfOf(form.text), name: OPERATOR, password })
    .expect(303);
  return agent;
}

/** Stores `n` generated accounts (names, kinds) as authorized, without WeChat: list and search tests. */
export async function seedAccounts(store: AuthorizerStore, n: number, now: number): Promise<string[]> {
  const accounts = generateAccounts(n);
  // In slices: thousands of commands at once would outlast the client's command timeout on a busy machine.
  for (let i = 0; i < accounts.length; i += 50) {
    await Promise.all(
      accounts.slice(i, i + 50).map(async (a) => {
        await store.saveAuthorization({
          appid: a.appid,
          refreshToken: `seeded-refresh-${a.appid}`,
          accessToken: `seeded-access-${a.appid}`,
          expiresIn: 7200,
          funcInfo: a.funcInfo.map((id) => ({ funcscope_category: { id } })),
          authorizedAt: now,
        });
        await store.saveAccountInfo(a.appid, {
          nickName: a.nickName,
          kind: a.kind,
          userName: a.userName,
          principalName: a.principalName,
        });
      }),
    );
  }
  return accounts.map((a) => a.appid);
}
