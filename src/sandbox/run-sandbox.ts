/**
 * `npm run sandbox`: the service and the WeChat emulator wired to each other on one machine, with demo
 * credentials — the newcomer's way to click through the whole authorization flow without a WeChat account.
 *
 * It uses only what it owns (see sandbox-settings.ts): no `.env`, no WeChat endpoint or credential variables,
 * and no Redis but one given as SANDBOX_REDIS_URL, its own throwaway redis-server, or in-memory stores.
 */
import type { RequestListener } from 'node:http';
import { createApp } from '../app';
import { ConfigError, HTTP_DEFAULTS, loadConfig, secretValues, type Config } from '../config';
import { createContainer, type Container } from '../container';
import { createHttpServer } from '../http-server';
import { createLogger, type Logger } from '../logger';
import { createRedis, waitUntilReady } from '../store/redis';
import { DEMO_CREDENTIALS } from './cli';
import { createEmulator, type Emulator } from './emulator';
import {
  readSandboxSettings,
  SANDBOX_KEY_PREFIX,
  SandboxSettingsError,
  type SandboxSettings,
} from './sandbox-settings';
import { findRedisServer, startThrowawayRedis, type ThrowawayRedis } from './throwaway-redis';

const DEMO_INTERNAL_API_TOKEN = 'sandbox-internal-api-token-0123456789';
/** The admin's browser, WeChat's domain rule and the printed URLs all use this host. */
const PUBLIC_HOST = 'localhost';

/** A failure the user can fix, told in one line (no stack trace). */
class SandboxStartError extends Error {}

type Storage =
  { kind: 'external'; url: string } | { kind: 'throwaway'; url: string; server: ThrowawayRedis } | { kind: 'memory' };

async function listenOn(
  server: ReturnType<typeof createHttpServer>,
  port: number,
  host: string | undefined,
  variable: string,
  hint: string,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        reject(
          new SandboxStartError(
            `port ${port} is ${err.code === 'EADDRINUSE' ? 'already in use' : 'not allowed'}: set ${variable} to a free port${hint}`,
          ),
        );
      } else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  return (server.address() as { port: number }).port;
}

async function chooseStorage(settings: SandboxSettings): Promise<Storage> {
  if (settings.redisUrl) {
    const probe = createRedis(settings.redisUrl, createLogger('silent'));
    const answers = await waitUntilReady(probe, 3000);
    probe.disconnect();
    if (!answers)
      throw new SandboxStartError(
        'no Redis answers at SANDBOX_REDIS_URL: start it, or unset SANDBOX_REDIS_URL to let the sandbox run its own',
      );
    return { kind: 'external', url: settings.redisUrl };
  }
  const binary = findRedisServer();
  if (binary) {
    const server = await startThrowawayRedis(binary);
    return { kind: 'throwaway', url: server.url, server };
  }
  if (settings.production) {
    throw new SandboxStartError(
      'no redis-server found and in-memory storage is refused when NODE_ENV=production: set SANDBOX_REDIS_URL',
    );
  }
  return { kind: 'memory' };
}

function describeStorage(storage: Storage, keyRoot: string): string {
  switch (storage.kind) {
    case 'external':
      return `sandbox storage: Redis at SANDBOX_REDIS_URL (${storage.url.replace(/\/\/[^@]*@/, '//***@')}), keys under ${keyRoot}:`;
    case 'throwaway':
      return `sandbox storage: its own throwaway redis-server at ${storage.url} (stopped with the sandbox), keys under ${keyRoot}:`;
    case 'memory':
      return 'sandbox storage: IN-MEMORY (no redis-server on PATH): one process only, nothing survives a restart';
  }
}

/** The service's configuration, built from the demo values and PORT only (never from the environment at large). */
function sandboxConfig(settings: SandboxSettings, emulatorUrl: string, redisUrl: string | undefined): Config {
  const env: Record<string, string> = {
    PORT: String(settings.port),
    PUBLIC_BASE_URL: `http://${PUBLIC_HOST}:${settings.port}`,
    WECHAT_COMPONENT_APPID: DEMO_CREDENTIALS.componentAppId,
    WECHAT_COMPONENT_APPSECRET: DEMO_CREDENTIALS.componentAppSecret,
    WECHAT_COMPONENT_TOKEN: DEMO_CREDENTIALS.token,
    WECHAT_COMPONENT_AES_KEY: DEMO_CREDENTIALS.encodingAesKey,
    WECHAT_API_BASE_URL: emulatorUrl,
    WECHAT_LOGIN_PAGE_URL: `${emulatorUrl}/cgi-bin/componentloginpage`,
    WECHAT_MOBILE_LOGIN_PAGE_URL: `${emulatorUrl}/wxaopen/safe/bindcomponent`,
    INTERNAL_API_TOKEN: DEMO_INTERNAL_API_TOKEN,
    PLATFORM_NAME: 'wxopen-auth sandbox',
    REDIS_KEY_PREFIX: SANDBOX_KEY_PREFIX,
    LOG_LEVEL: settings.logLevel,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...(settings.production ? { NODE_ENV: 'production' } : {}),
  };
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new SandboxStartError(err.problems.join('; '));
    throw err;
  }
}

/** The ticket the emulator pushes at start: the refresher must not start before it is stored, or it asks for one. */
async function waitForFirstTicket(
  container: Container,
  emulator: Emulator,
  intervalMs: number,
  logger: Logger,
): Promise<void> {
  if (intervalMs === 0) await emulator.pushTicket(); // no periodic pushes: the first one is ours to send
  const deadline = Date.now() + 15_000;
  while (!(await container.ticketStore.get().catch(() => undefined))) {
    if (Date.now() > deadline) {
      logger.warn('sandbox: the first component_verify_ticket was not stored within 15 s');
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

let stopSandbox: (() => Promise<void>) | undefined;
let stopping = false;

function onSignal(): void {
  if (stopping) return;
  stopping = true;
  // Never hang on the way out (a push in flight, a Redis that went away): 5 s, then exit anyway.
  setTimeout(() => process.exit(0), 5000).unref();
  void (stopSandbox ? stopSandbox() : Promise.resolve()).finally(() => {
    process.stdout.write('wxopen-auth sandbox stopped.\n');
    process.exit(0);
  });
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function main(): Promise<void> {
  const settings = readSandboxSettings(process.env);
  // The app arrives once storage is chosen; until then (a moment) requests get 503.
  let app: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createHttpServer((req, res) => app(req, res), HTTP_DEFAULTS);
  // Bound before anything else starts, so a taken port fails at once and leaves nothing behind.
  await listenOn(server, settings.port, undefined, 'PORT', '');
  const emulator = createEmulator({
    componentAppId: DEMO_CREDENTIALS.componentAppId,
    componentAppSecret: DEMO_CREDENTIALS.componentAppSecret,
    token: DEMO_CREDENTIALS.token,
    encodingAesKey: DEMO_CREDENTIALS.encodingAesKey,
    // WeChat's rule: the authorization page is reached from, and returns to, the registered domain.
    registeredDomain: PUBLIC_HOST,
    ticketIntervalMs: settings.ticketIntervalMs,
  });
  let emulatorUrl: string;
  try {
    emulatorUrl = await emulator.listen(settings.emulatorPort, '127.0.0.1');
  } catch (err) {
    server.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new SandboxStartError(
        `port ${settings.emulatorPort} is already in use: set SANDBOX_EMULATOR_PORT to a free port, or unset it to pick one`,
      );
    }
    throw err;
  }
  let storage: Storage;
  try {
    storage = await chooseStorage(settings);
  } catch (err) {
    server.close();
    await emulator.close();
    throw err;
  }
  const config = sandboxConfig(settings, emulatorUrl, storage.kind === 'memory' ? undefined : storage.url);
  const logger = createLogger(config.logLevel, undefined, secretValues(config));
  const container = createContainer(config, { logger, storage: storage.kind === 'memory' ? 'memory' : 'redis' });
  await container.storage.waitUntilReady(3000);
  process.stdout.write(`${describeStorage(storage, container.keys.root)}\n`);

  app = createApp(container);
  stopSandbox = async () => {
    await emulator.close();
    server.close();
    server.closeAllConnections();
    await container.close();
    if (storage.kind === 'throwaway') await storage.server.stop();
  };
  if (stopping) return;

  emulator.setPushUrl(`http://127.0.0.1:${config.port}/auth`);
  await waitForFirstTicket(container, emulator, settings.ticketIntervalMs, logger);
  container.start();

  const shellVariables = [
    ...(storage.kind === 'memory' ? [] : [`REDIS_URL=${storage.url}`]),
    `P=${container.keys.root}`,
    `REDIS_KEY_PREFIX=${SANDBOX_KEY_PREFIX}`,
    `WXOPEN_AUTH_URL=${config.publicBaseUrl}`,
    `EMULATOR=${emulatorUrl}`,
    `INTERNAL_API_TOKEN=${DEMO_INTERNAL_API_TOKEN}`,
  ];
  process.stdout.write(
    [
      '',
      'wxopen-auth sandbox is running (the WeChat side is emulated; no account needed).',
      '',
      `  Authorize an account:   ${config.publicBaseUrl}/authorize`,
      `  Emulator console:       ${emulatorUrl}/`,
      `  Release test (全网发布):  ${emulatorUrl}/release-test   (or: curl -X POST ${emulatorUrl}/sandbox/release-test)`,
      `  Readiness:              ${config.publicBaseUrl}/readyz`,
      `  Internal API bearer:    ${DEMO_INTERNAL_API_TOKEN}`,
      `  Redis key prefix:       ${container.keys.root}:`,
      '',
      '  For the commands of docs/redis-keys.md and docs/messages.md, paste into your shell:',
      `  export ${shellVariables.join(' ')}`,
      '',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  const message =
    err instanceof SandboxStartError || err instanceof SandboxSettingsError
      ? err.message
      : `failed to start: ${(err as Error).message}`;
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(1);
});
