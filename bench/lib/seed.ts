/**
 * Authorized accounts for the storm and scale scenarios: authorized in the emulator (no push), their codes
 * exchanged over HTTP with api_query_auth (the only way WeChat hands out a refresh token), then written to Redis
 * with pipelines in the exact shape of the key contract (design.md), as the service's store writes them.
 */
import http from 'node:http';
import type { Emulator } from '../../src/sandbox/emulator';
import type { Keys } from '../../src/store/keys';
import { BENCH_COMPONENT } from './common';
import { spawnServer, stopChild } from './procs';
import { execByNode, type BenchClient } from './topology';

export interface AuthorizedAccount {
  appid: string;
  refreshToken: string;
  accessToken: string;
  expiresIn: number;
  funcInfo: unknown[];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            const json = JSON.parse(text) as Record<string, unknown>;
            if (typeof json.errcode === 'number' && json.errcode !== 0)
              reject(new Error(`${url}: errcode ${json.errcode} ${String(json.errmsg)}`));
            else resolve(json);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Issues a ticket in the emulator (not pushed) and returns it. */
export async function issueTicket(emulator: Emulator): Promise<string> {
  await emulator.pushTicket();
  const ticket = emulator.currentTicket();
  if (!ticket) throw new Error('the emulator issued no ticket');
  return ticket;
}

export async function authorizeAccounts(
  emulator: Emulator,
  baseUrl: string,
  ticket: string,
  appids: readonly string[],
  concurrency = 32,
): Promise<AuthorizedAccount[]> {
  const tokenAnswer = await postJson(`${baseUrl}/cgi-bin/component/api_component_token`, {
    component_appid: BENCH_COMPONENT.appId,
    component_appsecret: BENCH_COMPONENT.appSecret,
    component_verify_ticket: ticket,
  });
  const codes: Array<[string, string]> = [];
  for (const appid of appids) codes.push([appid, (await emulator.authorize(appid, { push: false })).authCode]);
  // The HTTP client runs in a helper process (bench/workers/exchange.ts): the emulator keeps this process's core.
  const child = spawnServer('bench/workers/exchange.ts', { PATH: process.env.PATH }, { ipc: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const reply = await new Promise<{ ok: boolean; accounts?: AuthorizedAccount[]; error?: string }>(
    (resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`exchange helper exited (${code}) without an answer: ${stderr}`)));
      child.send({
        url: baseUrl,
        componentToken: tokenAnswer.component_access_token,
        componentAppId: BENCH_COMPONENT.appId,
        codes,
        concurrency,
      });
    },
  );
  await stopChild(child);
  if (!reply.ok || !reply.accounts) throw new Error(`exchanging authorization codes failed: ${reply.error}`);
  return reply.accounts;
}

/** The ticket as the push handler stores it (public key + private receivedAt). */
export async function seedTicket(redis: BenchClient, keys: Keys, ticket: string, receivedAt: number): Promise<void> {
  const ttl = 12 * 3600;
  await redis
    .multi()
    .set(keys.componentVerifyTicket, ticket, 'EX', ttl)
    .set(keys.ticketMeta, JSON.stringify({ receivedAt }), 'EX', ttl)
    .exec();
}

/**
 * Writes new accounts as RedisAuthorizerStore.saveAuthorization leaves them (hash, access token with its TTL,
 * refresh-token key, and in each account's schedule shard the schedule, index and counters; with `listing`, the
 * console's listing index too), `batch` accounts at a time in one pipeline per node (bench/lib/topology.ts), the
 * shard keys written with one command per shard and batch. `expiresAt(i)` is the service-clock expiry of the
 * i-th account's token.
 */
export async function seedAuthorizers<A extends AuthorizedAccount>(
  redis: BenchClient,
  keys: Keys,
  accounts: readonly A[],
  now: number,
  expiresAt: (i: number) => number,
  batch = 1000,
  /** More hash fields per account (the console's names and kinds). */
  moreFields?: (account: A) => Record<string, string>,
  options: { listing?: boolean } = {},
): Promise<void> {
  for (let start = 0; start < accounts.length; start += batch) {
    const schedules = new Map<number, (string | number)[]>();
    const indexes = new Map<number, Record<string, string>>();
    const listing: (string | number)[] = [];
    await execByNode(redis, (to) => {
      for (let i = start; i < Math.min(accounts.length, start + batch); i++) {
        const a = accounts[i]!;
        const expiry = expiresAt(i);
        const shard = keys.scheduleShardOf(a.appid);
        const fields: Record<string, string> = {
          status: 'authorized',
          func_info: JSON.stringify(a.funcInfo),
          authorized_at: String(now),
          updated_at: String(now),
          ...moreFields?.(a),
          access_token_expires_at: String(expiry),
          revision: '1',
        };
        to(keys.authorizer(a.appid)).hset(keys.authorizer(a.appid), fields);
        const tokenKey = keys.authorizerAccessToken(a.appid);
        to(tokenKey).set(tokenKey, a.accessToken, 'PX', Math.max(1, Math.floor(expiry - now)));
        const refreshKey = keys.authorizerRefreshToken(a.appid);
        to(refreshKey).set(refreshKey, a.refreshToken);
        if (!schedules.has(shard)) schedules.set(shard, []);
        schedules.get(shard)!.push(expiry, a.appid);
        if (!indexes.has(shard)) indexes.set(shard, {});
        indexes.get(shard)![a.appid] = '1|authorized';
        // authorizer-index.ts's member: appid \0 lowercase appid \0 lowercase nick name.
        if (options.listing)
          listing.push(0, `${a.appid}\0${a.appid.toLowerCase()}\0${(fields.nick_name ?? '').toLowerCase()}`);
      }
      for (const [shard, pairs] of schedules) {
        const schedule = keys.authorizerSchedule(shard);
        to(schedule).zadd(schedule, ...pairs);
        const index = keys.authorizerShardIndex(shard);
        to(index).hset(index, indexes.get(shard)!);
        const counts = keys.authorizerCounts(shard);
        to(counts).hincrby(counts, 'authorized', pairs.length / 2);
      }
      if (listing.length) to(keys.authorizerIndex).zadd(keys.authorizerIndex, ...listing);
    });
  }
}

/** Scheduled accounts whose token expires at or before `untilMs`, over every schedule shard. */
export async function countScheduledUntil(redis: BenchClient, keys: Keys, untilMs: number): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: keys.scheduleShards }, (_, s) => redis.zcount(keys.authorizerSchedule(s), '-inf', untilMs)),
  );
  return counts.reduce((a, b) => a + b, 0);
}
