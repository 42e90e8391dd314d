/**
 * The JSON control API under `/sandbox/`: what tests and curl users use to steer the emulator (authorize or revoke
 * accounts, push a ticket, set faults, read the call log, move the clock). Every route is documented with a curl
 * example in docs/sandbox.md. Bad input answers 400 with `{ "error": "<what is wrong>" }`.
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import type { SandboxContext } from './context';
import { isEndpoint } from './endpoints';
import { parseFault } from './faults';
import { fakeMsgId, fakeOpenid } from './message-sender';
import { SandboxError } from './state';

class BadInput extends Error {}

function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new BadInput('the body must be a JSON object');
  return body as Record<string, unknown>;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value !== undefined && typeof value !== 'boolean') throw new BadInput(`${field} must be true or false`);
  return value;
}

function queryInt(req: Request, name: string, fallback: number): number {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) throw new BadInput(`${name} must be a non-negative integer`);
  return Number(raw);
}

function endpointParam(req: Request): string {
  const endpoint = req.params.endpoint;
  if (!isEndpoint(endpoint)) throw new BadInput(`unknown endpoint ${JSON.stringify(endpoint)}`);
  return endpoint;
}

export function controlApi(ctx: SandboxContext): Router {
  const router = Router();
  const { state } = ctx;
  // Any Content-Type: `curl -d '{"ms":1000}'` sends form encoding, but the user plainly meant JSON.
  router.use('/sandbox', express.json({ limit: '64kb', type: () => true }));

  router.get('/sandbox/accounts', (req, res) => {
    const filter = req.query.authorized;
    if (filter !== undefined && filter !== 'true' && filter !== 'false')
      throw new BadInput('authorized must be true or false');
    const offset = queryInt(req, 'offset', 0);
    const limit = queryInt(req, 'limit', Number.MAX_SAFE_INTEGER);
    let accounts = state.accounts.all().map((account) => ctx.accountView(account));
    if (filter !== undefined) accounts = accounts.filter((a) => a.authorized === (filter === 'true'));
    res.json({ total: accounts.length, accounts: accounts.slice(offset, offset + limit) });
  });

  router.get('/sandbox/accounts/:appid', (req, res) => {
    res.json(ctx.accountView(state.requireAccount(req.params.appid)));
  });

  router.post('/sandbox/accounts/:appid/authorize', async (req, res) => {
    const push = optionalBoolean(objectBody(req), 'push');
    res.json(await ctx.authorize(req.params.appid, { push }));
  });

  router.post('/sandbox/accounts/:appid/revoke', async (req, res) => {
    const push = optionalBoolean(objectBody(req), 'push');
    const result = await ctx.revoke(req.params.appid, { push });
    res.json({ revoked: req.params.appid, ...(result ? { push: result } : {}) });
  });

  router.post('/sandbox/push-ticket', async (_req, res) => {
    const result = await ctx.ticketPusher.pushTicket();
    res.json({ ticket: state.tickets.current(), ...result });
  });

  router.get('/sandbox/ticket', (_req, res) => res.json({ ticket: state.tickets.current() ?? null }));
  router.get('/sandbox/pushes', (_req, res) => res.json({ pushes: ctx.pusher.history() }));

  router.put('/sandbox/push-url', (req, res) => {
    const url = objectBody(req).url;
    if (url !== null && typeof url !== 'string') throw new BadInput('url must be a string or null');
    try {
      ctx.setPushUrl(url ?? undefined);
    } catch (err) {
      throw new BadInput((err as Error).message);
    }
    res.json({ pushUrl: ctx.pusher.pushUrl ?? null });
  });

  router.put('/sandbox/message-url', (req, res) => {
    const url = objectBody(req).url;
    if (url !== null && typeof url !== 'string') throw new BadInput('url must be a string with $APPID$, or null');
    try {
      ctx.setMessageUrl(url ?? undefined);
    } catch (err) {
      throw new BadInput((err as Error).message);
    }
    res.json({ messageUrl: ctx.messageUrl('$APPID$') ?? null });
  });

  // Plays WeChat's release test (全网发布接入检测) against the service's message URL.
  router.post('/sandbox/release-test', async (req, res) => {
    const body = objectBody(req);
    const group = body.group;
    if (group !== undefined && !(typeof group === 'number' && Number.isInteger(group) && group >= 1 && group <= 5)) {
      throw new BadInput('group must be an integer from 1 to 5');
    }
    const waitMs = body.waitMs;
    if (
      waitMs !== undefined &&
      !(typeof waitMs === 'number' && Number.isInteger(waitMs) && waitMs >= 100 && waitMs <= 30_000)
    ) {
      throw new BadInput('waitMs must be an integer from 100 to 30000');
    }
    if (!ctx.messageUrl('$APPID$'))
      throw new SandboxError(409, 'no message URL: set the push URL or PUT /sandbox/message-url first');
    res.json(await ctx.releaseTest.run({ group, waitMs }));
  });

  // An ordinary message or event of an authorized account, sent to the service's message URL.
  router.post('/sandbox/accounts/:appid/messages', async (req, res) => {
    const account = state.requireAccount(req.params.appid);
    if (!state.authorizations.isAuthorized(account.appid))
      throw new SandboxError(409, `${account.appid} is not authorized`);
    const body = objectBody(req);
    const { content, event, openid, createTime } = body;
    if (
      createTime !== undefined &&
      !(typeof createTime === 'number' && Number.isSafeInteger(createTime) && createTime > 0)
    ) {
      throw new BadInput('createTime must be Unix seconds');
    }
    if ((content === undefined) === (event === undefined))
      throw new BadInput('give either content (a text message) or event (an event name)');
    if (content !== undefined && (typeof content !== 'string' || content === ''))
      throw new BadInput('content must be a non-empty string');
    if (event !== undefined && (typeof event !== 'string' || !/^[A-Za-z_]{1,32}$/.test(event)))
      throw new BadInput('event must be an event name such as subscribe');
    if (openid !== undefined && (typeof openid !== 'string' || !/^[A-Za-z0-9_-]{6,64}$/.test(openid)))
      throw new BadInput('openid must be 6–64 letters, digits, - or _');
    const url = ctx.messageUrl(account.appid);
    if (!url) throw new SandboxError(409, 'no message URL: set the push URL or PUT /sandbox/message-url first');
    const msgId = typeof body.msgId === 'string' && /^\d{1,20}$/.test(body.msgId) ? body.msgId : fakeMsgId();
    const answer = await ctx.sender.send(url, {
      toUserName: account.userName,
      fromUserName: openid ?? fakeOpenid(),
      msgType: content !== undefined ? 'text' : 'event',
      fields:
        content !== undefined
          ? [
              ['Content', content],
              ['MsgId', msgId],
            ]
          : [['Event', event as string]],
      ...(createTime !== undefined ? { createTime } : {}),
    });
    res.json({ url, msgId: content !== undefined ? msgId : undefined, ...answer });
  });

  router.get('/sandbox/faults', (_req, res) => res.json({ faults: ctx.faults.list() }));
  router.put('/sandbox/faults/:endpoint', (req, res) => {
    const endpoint = endpointParam(req);
    let fault;
    try {
      fault = parseFault(req.body);
    } catch (err) {
      throw new BadInput((err as Error).message);
    }
    ctx.faults.set(endpoint, fault);
    res.json({ endpoint, fault: ctx.faults.list()[endpoint] });
  });
  router.delete('/sandbox/faults', (_req, res) => {
    ctx.faults.clear();
    res.json({ faults: {} });
  });
  router.delete('/sandbox/faults/:endpoint', (req, res) => {
    ctx.faults.clear(endpointParam(req));
    res.json({ faults: ctx.faults.list() });
  });

  router.get('/sandbox/calls', (req, res) => {
    const endpoint = req.query.endpoint;
    if (endpoint !== undefined && !isEndpoint(endpoint))
      throw new BadInput(`unknown endpoint ${JSON.stringify(endpoint)}`);
    res.json({ calls: ctx.callLog.entries(endpoint) });
  });
  router.delete('/sandbox/calls', (_req, res) => {
    ctx.callLog.clear();
    res.json({ calls: [] });
  });

  router.get('/sandbox/quotas', (_req, res) => res.json({ quotas: ctx.quotas.status() }));
  router.put('/sandbox/quotas/:endpoint', (req, res) => {
    const endpoint = endpointParam(req);
    const limit = objectBody(req).dailyLimit;
    if (limit !== null && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 0)) {
      throw new BadInput('dailyLimit must be a non-negative integer, or null for no limit');
    }
    ctx.quotas.setLimit(endpoint, limit ?? undefined);
    res.json({ quotas: ctx.quotas.status() });
  });

  const clockView = () => {
    const now = ctx.clock.now();
    return {
      now,
      iso: new Date(now).toISOString(),
      manual: typeof (ctx.clock as { advance?: unknown }).advance === 'function',
    };
  };
  router.get('/sandbox/clock', (_req, res) => res.json(clockView()));
  router.post('/sandbox/clock/advance', (req, res) => {
    const clock = ctx.clock as { advance?: (ms: number) => void };
    if (typeof clock.advance !== 'function') {
      res.status(409).json({ error: 'the emulator runs on the system clock; only a ManualClock can be advanced' });
      return;
    }
    const ms = objectBody(req).ms;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw new BadInput('ms must be a non-negative number');
    clock.advance(ms);
    res.json(clockView());
  });

  router.get('/sandbox/tokens/:token', (req, res) => res.json({ status: state.tokens.status(req.params.token) }));
  router.post('/sandbox/tokens/:token/invalidate', (req, res) => {
    if (!state.tokens.invalidate(req.params.token)) throw new SandboxError(404, 'unknown token');
    res.json({ status: state.tokens.status(req.params.token) });
  });

  router.put('/sandbox/refresh-token-rotation', (req, res) => {
    const on = optionalBoolean(objectBody(req), 'on');
    if (on === undefined) throw new BadInput('on must be true or false');
    state.rotateRefreshTokens = on;
    res.json({ on });
  });

  router.use('/sandbox', (req, res) => {
    res.status(404).json({ error: `no control route ${req.method} ${req.originalUrl.split('?')[0]}` });
  });
  router.use('/sandbox', controlErrors);
  return router;
}

const controlErrors: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (res.headersSent) return;
  if (err instanceof BadInput) return void res.status(400).json({ error: err.message });
  if (err instanceof SandboxError) return void res.status(err.status).json({ error: err.message });
  const e = err as { type?: string; status?: number; message?: string };
  if (e?.type === 'entity.parse.failed') return void res.status(400).json({ error: 'the body is not valid JSON' });
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return void res.status(e.status).json({ error: e.message ?? 'bad request' });
  }
  res.status(500).json({ error: `sandbox error: ${e?.message ?? String(err)}` });
};
