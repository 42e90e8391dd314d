import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signWebhook } from '../../src/client/webhook-signature';
import { streamEvents } from '../support/events';
import { eventually } from '../support/eventually';
import { startHarness, type Harness } from '../support/emulator';
import { freePort } from '../support/global-setup';
import { newTestRedis } from '../support/redis';
import { ROOT } from '../support/spawn';

const OA = 'wx3c5a7e19b2d40f81';
const PYTHON = '/usr/bin/python3';

/** The fenced block right after `<!-- example: name -->` in docs/events.md, verbatim. */
function example(name: string): string {
  const doc = readFileSync(join(ROOT, 'docs/events.md'), 'utf8');
  const match = new RegExp(`<!-- example: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(doc);
  if (!match) throw new Error(`docs/events.md has no example "${name}"`);
  return match[1]!;
}

describe('docs/events.md: the consumer and verifier examples run verbatim', () => {
  let h: Harness;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const redis = newTestRedis();
  let ids: string[];

  beforeAll(async () => {
    h = await startHarness();
    await h.authorize(OA);
    await h.authorize(OA);
    await h.container.authorizerStore.markUnauthorized(OA);
    ids = (await streamEvents(redis, h.container.keys.events)).map((e) => e.event_id);
    expect(ids).toHaveLength(3);
    dir = mkdtempSync(join(tmpdir(), 'wxopen-events-docs-'));
    // A consumer project that depends on this package (and ioredis), as the Node examples import them; the
    // package's `source` export condition (node -C source) points at the TypeScript sources, so no build is needed.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'wxopen-auth'));
    for (const dep of ['ioredis', 'tsx']) symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: h.config.redis.url,
      REDIS_KEY_PREFIX: h.config.redis.keyPrefix,
      WECHAT_COMPONENT_APPID: h.config.component.appId,
    };
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await h.close();
    await redis.quit();
  });

  const pending = async (group: string) => Number((await redis.xpending(h.container.keys.events, group))[0]);
  const run = (command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const result = spawnSync(command, args, {
      cwd: dir,
      env: { ...env, ...extraEnv },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    return result.stdout;
  };

  it('redis-cli: reads the three events in the group "crm" and acknowledges them', async () => {
    const out = run('bash', ['--norc', '--noprofile', '-c', `set -euo pipefail\n${example('redis-cli')}`]);
    for (const id of ids) expect(out).toContain(id);
    expect(out).toContain('updateauthorized');
    expect(await pending('crm')).toBe(0);
    expect(run('bash', ['--norc', '--noprofile', '-c', example('redis-cli')])).not.toContain(ids[0]!); // nothing new
  });

  it('Node: the typed consumer reads, types and acknowledges them (group "tenants")', async () => {
    writeFileSync(join(dir, 'consumer.mts'), example('node'));
    const out = run(process.execPath, ['-C', 'source', '--import', 'tsx', 'consumer.mts']);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^provision ${OA} ${ids[0]} \\[[\\d,]*\\]$`));
    expect(lines[1]).toBe(`updateauthorized ${OA} ${ids[1]}`);
    expect(lines[2]).toBe(`suspend ${OA} ${ids[2]}`);
    expect(await pending('tenants')).toBe(0);
  });

  it('Python (redis-py): reads and acknowledges them (group "billing")', async () => {
    writeFileSync(join(dir, 'consumer.py'), example('python'));
    const out = run(PYTHON, ['consumer.py']);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => l.split(' ').slice(0, 3).join(' ')),
    ).toEqual([`authorized ${OA} ${ids[0]}`, `updateauthorized ${OA} ${ids[1]}`, `unauthorized ${OA} ${ids[2]}`]);
    expect(await pending('billing')).toBe(0);
  });

  it('Python verifier: accepts the service signature with either secret, refuses a changed body or another secret', () => {
    const body = JSON.stringify({ event_id: ids[0], type: 'authorized' });
    const header = signWebhook(
      body,
      ['secret-new-0123456789abcdef0123456789', 'secret-old-0123456789abcdef0123456789'],
      Date.now() / 1000,
    );
    const calls = [
      `print(verify_wxopen_signature(${JSON.stringify(header)}, ${JSON.stringify(body)}.encode(), ["secret-old-0123456789abcdef0123456789"]))`,
      `print(verify_wxopen_signature(${JSON.stringify(header)}, ${JSON.stringify(`${body} `)}.encode(), ["secret-old-0123456789abcdef0123456789"]))`,
      `print(verify_wxopen_signature(${JSON.stringify(header)}, ${JSON.stringify(body)}.encode(), ["another-secret-0123456789abcdef01234"]))`,
    ];
    writeFileSync(join(dir, 'verify.py'), `${example('python-verify')}\n\n${calls.join('\n')}\n`);
    expect(run(PYTHON, ['verify.py']).trim().split('\n')).toEqual(['True', 'False', 'False']);
  });

  it('Node verifier: a receiver that answers 204 to a signed delivery and 401 to a forged one', async () => {
    writeFileSync(join(dir, 'receiver.mts'), example('node-verify'));
    const port = await freePort();
    const secret = 'receiver-secret-0123456789abcdef012345';
    const child = spawn(process.execPath, ['-C', 'source', '--import', 'tsx', 'receiver.mts'], {
      cwd: dir,
      detached: true,
      env: { ...env, PORT: String(port), WEBHOOK_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const body = JSON.stringify({ event_id: ids[0], type: 'authorized', authorizer_appid: OA });
      const post = (signature: string) =>
        fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'X-Wxopen-Signature': signature }, body }).then(
          (r) => r.status,
        );
      expect(
        await eventually(() => post(signWebhook(body, [secret], Date.now() / 1000)).catch(() => undefined), {
          timeoutMs: 20_000,
        }),
      ).toBe(204);
      expect(await post(signWebhook(body, ['forged-secret-0123456789abcdef0123456'], Date.now() / 1000))).toBe(401);
      expect(await post(signWebhook(body, [secret], Date.now() / 1000 - 3600))).toBe(401);
      expect(out).toContain(`verified authorized ${ids[0]}`);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    }
  });
});
