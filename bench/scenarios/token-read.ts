/**
 * Scenario 2 — Token read: GET /internal/authorizers/:appid/access-token, every read a cache hit (fresh tokens of
 * 1 000 seeded accounts, read round-robin). Baselines: bare node:http and bare Express, each doing one ioredis GET
 * of the public key `P:authorizer:{A}:access_token` per request.
 */
import { randomBytes } from 'node:crypto';
import { generateAccounts } from '../../src/sandbox/emulator';
import { createKeys } from '../../src/store/keys';
import { BENCH_COMPONENT, INTERNAL_API_TOKEN, progress, serviceEnv, uniquePrefix } from '../lib/common';
import type { RequestSpec } from '../lib/load';
import { deletePrefix } from '../lib/redis';
import { ratioCheck, type Row, type ScenarioResult } from '../lib/report';
import { runRounds, type Target } from '../lib/rounds';
import { serverStarter } from '../lib/procs';
import { seedAuthorizers } from '../lib/seed';
import type { BenchContext } from '../run';

const ACCOUNTS = 1000;

/** What GET /internal/authorizers/:appid/access-token answers for a seeded account. */
export async function probeTokenRoute(baseUrl: string, appid: string): Promise<{ present: boolean; detail: string }> {
  const res = await fetch(`${baseUrl}/internal/authorizers/${appid}/access-token`, {
    headers: { authorization: `Bearer ${INTERNAL_API_TOKEN}` },
  });
  const text = await res.text();
  if (res.status === 200 && text.includes('authorizer_access_token')) return { present: true, detail: 'ok' };
  let code = '';
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    // not JSON
  }
  if (res.status === 404 && code === 'not_found') return { present: false, detail: 'route missing' };
  return { present: false, detail: `unexpected answer ${res.status} ${text.slice(0, 120)}` };
}

export async function tokenReadScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { quick } = ctx;
  const prefix = uniquePrefix('token');
  const keys = createKeys(prefix, BENCH_COMPONENT.appId);
  const redis = ctx.redis.client();
  const opts = { rounds: quick ? 3 : 5, durationS: quick ? 2 : 5, warmupS: quick ? 0.75 : 2, connections: 32 };

  const appids = generateAccounts(ACCOUNTS).map((a) => a.appid);
  const now = Date.now();
  await seedAuthorizers(
    redis,
    keys,
    appids.map((appid) => ({
      appid,
      refreshToken: `refreshtoken@@@${randomBytes(33).toString('base64url')}`,
      accessToken: `82_${randomBytes(72).toString('base64url')}`,
      expiresIn: 7200,
      funcInfo: [{ funcscope_category: { id: 1 } }],
    })),
    now,
    () => now + 7200_000,
  );
  const requests: RequestSpec[] = appids.map((appid) => ({
    method: 'GET',
    path: `/internal/authorizers/${appid}/access-token`,
    headers: { authorization: `Bearer ${INTERNAL_API_TOKEN}` },
  }));
  const request = (i: number) => requests[i % requests.length]!;

  const { servers, start } = serverStarter(ctx.profileDir);
  const baseEnv = serviceEnv({ port: 0, redisUrl: ctx.redis.url, keyPrefix: prefix, apiBaseUrl: 'http://127.0.0.1:9' });
  const baselineEnv = { ...baseEnv, BASELINE_MODE: 'token', BASELINE_KEY_ROOT: keys.root };

  try {
    progress('token: starting servers');
    const bareHttp = await start('bare node:http + GET', 'bench/servers/bare-http.ts', baselineEnv);
    const bareExpress = await start('bare Express + GET', 'bench/servers/bare-express.ts', baselineEnv);
    const service = await start('wxopen-auth', 'src/main.ts', baseEnv, ctx.profile);
    const probe = await probeTokenRoute(service.url, appids[0]!);
    if (!probe.present) progress(`token: the service is skipped: ${probe.detail}`);

    const targets: Target[] = [
      { id: 'bare-http', label: 'bare node:http + 1 GET', server: bareHttp, request },
      { id: 'bare-express', label: 'bare Express 5 + 1 GET', server: bareExpress, request },
    ];
    if (probe.present)
      targets.push({ id: 'service', label: 'wxopen-auth GET …/access-token', server: service, request });
    const summary = await runRounds('token', targets, opts);
    const by = (id: string) => summary.find((s) => s.id === id);
    const svc = by('service');
    const bareHttpRps = by('bare-http')!.reqPerSec;
    const rows: Row[] = summary.map((s) => ({
      name: s.label,
      reqPerSec: s.reqPerSec,
      p50: s.p50,
      p99: s.p99,
      errors: s.errors,
      note: [s.id !== 'bare-http' ? `${(s.reqPerSec / bareHttpRps).toFixed(2)}× bare http` : '', ...s.warnings]
        .filter(Boolean)
        .join('; '),
    }));
    if (!svc) rows.push({ name: 'wxopen-auth GET …/access-token', note: `skipped: ${probe.detail}` });
    return {
      id: 'token',
      title: 'Token read: GET /internal/authorizers/:appid/access-token (cache hit)',
      method: `${ACCOUNTS} accounts read round-robin; ${opts.rounds} alternating rounds × ${opts.durationS} s (warm-up ${opts.warmupS} s), ${opts.connections} connections, medians`,
      rows,
      checks: [
        svc
          ? ratioCheck('service / bare Express + GET', svc.reqPerSec / by('bare-express')!.reqPerSec, 0.9)
          : { what: 'service / bare Express + GET', value: 'skipped', target: '≥ 0.90×', pass: null },
      ],
      details: { route: probe.detail, targets: summary, serviceStderr: service.stderr().slice(0, 2000) },
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await deletePrefix(redis, prefix);
  }
}
