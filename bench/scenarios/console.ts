/**
 * Scenario 5 — the operators' console at scale: 100 000 accounts (10 000 in --quick) seeded with pipelines in
 * the key contract's shape (as the scale scenario does), taken into the listing index by the first listing
 * (the backfill an upgrade runs once, reported on its own), then the account list
 * rendered over HTTP by the real app (sign-in, session cookie, CSRF as in production): the first page, a
 * deep page, a search by name and one by appid. Figures are client-side times of whole responses on loopback,
 * medians and p99 over rounds; the target is the issue's: a list page in under 300 ms.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/logger';
import { hashPassword } from '../../src/password-hash';
import { generateAccounts } from '../../src/sandbox/emulator';
import { BENCH_COMPONENT, median, percentiles, progress, round, uniquePrefix } from '../lib/common';
import { deletePrefix } from '../lib/redis';
import { seedAuthorizers } from '../lib/seed';
import type { ScenarioResult } from '../lib/report';
import type { BenchContext } from '../run';

const TARGET_MS = 300;

export async function consoleScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 10_000 : 100_000;
  const rounds = ctx.quick ? 10 : 30;
  const prefix = uniquePrefix('console');
  const password = 'bench console password';
  const config = loadConfig({
    NODE_ENV: 'production',
    WECHAT_COMPONENT_APPID: BENCH_COMPONENT.appId,
    WECHAT_COMPONENT_APPSECRET: BENCH_COMPONENT.appSecret,
    WECHAT_COMPONENT_TOKEN: BENCH_COMPONENT.token,
    WECHAT_COMPONENT_AES_KEY: BENCH_COMPONENT.aesKey,
    // Never called: listing reads Redis only.
    WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
    REDIS_URL: ctx.redis.url,
    REDIS_KEY_PREFIX: prefix,
    REFRESHER_ENABLED: 'false',
    CONSOLE_USERS: `bench:${await hashPassword(password)}`,
    CONSOLE_SESSION_SECRET: 'bench-console-session-secret-0123456789',
  });
  const container = createContainer(config, { logger: createLogger(process.env.BENCH_CONSOLE_LOG ?? 'warn') });
  if (!(await container.storage.waitUntilReady(10_000))) throw new Error('Redis is not reachable');
  const server = createApp(container).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const accounts = generateAccounts(n);
    const seedStarted = Date.now();
    await seedAuthorizers(
      ctx.redis.client(),
      container.keys,
      accounts.map((a, i) => ({
        ...a,
        refreshToken: `bench-refresh-${i}`,
        accessToken: `bench-access-${i}`,
        expiresIn: 7200,
        funcInfo: a.funcInfo.map((id) => ({ funcscope_category: { id } })),
      })),
      Date.now(),
      (i) => Date.now() + 7200_000 - i,
      2000,
      (a) => ({ nick_name: a.nickName, kind: a.kind, user_name: a.userName }),
    );
    progress(`console: ${n} accounts seeded with pipelines in ${round((Date.now() - seedStarted) / 1000, 1)} s`);

    const cookie = await signIn(base, password);
    // The first listing takes the pipeline-seeded accounts into the listing index (as after an upgrade).
    const backfillMs = await timedGet(base, '/console/accounts', cookie);
    progress(`console: first listing (index backfill of ${n} accounts) took ${round(backfillMs / 1000, 1)} s`);
    const last = Math.ceil(n / 50);
    const pages: [string, string][] = [
      ['first page', '/console/accounts'],
      [`page ${last} (the last)`, `/console/accounts?page=${last}`],
      ['search by name', `/console/accounts?q=${encodeURIComponent(`测试小程序 ${n - 1}`)}`],
      ['search by an appid', `/console/accounts?q=${accounts[n - 1]!.appid}`],
      ['search by a part of an appid', `/console/accounts?q=${accounts[n - 1]!.appid.slice(-8)}`],
    ];
    const rows = [];
    const checks = [];
    for (const [name, path] of pages) {
      await timedGet(base, path, cookie); // warm-up (the first search also fills nothing: names are indexed)
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) times.push(await timedGet(base, path, cookie));
      const [p50, p99] = [median(times), percentiles(times, [99])[0] ?? NaN];
      rows.push({ name, p50: round(p50, 1), p99: round(p99, 1) });
      checks.push({
        what: `${name} of ${n.toLocaleString('en')} accounts, median`,
        value: `${round(p50, 0)} ms`,
        target: `< ${TARGET_MS} ms`,
        pass: p50 < TARGET_MS,
      });
    }
    return {
      id: 'console',
      title: `Console account list at ${n.toLocaleString('en')} accounts`,
      method: `GET over loopback with a signed-in session, ${rounds} rounds after one warm-up each; ms per whole response (p50 / p99)`,
      rows: [
        ...rows,
        { name: 'first listing after seeding (index backfill)', note: `${round(backfillMs, 0)} ms, once` },
      ],
      checks,
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await deletePrefix(ctx.redis.client(), prefix).catch(() => undefined);
    await container.close();
  }
}

async function signIn(base: string, password: string): Promise<string> {
  const form = await fetch(`${base}/console/login`);
  const cookies = form.headers.getSetCookie().map((c) => c.split(';')[0]);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const res = await fetch(`${base}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.join('; ') },
    body: new URLSearchParams({ _csrf: csrf, name: 'bench', password }),
  });
  if (res.status !== 303) throw new Error(`console sign-in failed: ${res.status}`);
  const session = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('wxopen_console='))
    ?.split(';')[0];
  if (!session) throw new Error('console sign-in set no session cookie');
  return session;
}

async function timedGet(base: string, path: string, cookie: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, { headers: { cookie } });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 || !body.includes('id="total"')) throw new Error(`GET ${path}: ${res.status}`);
  return ms;
}
