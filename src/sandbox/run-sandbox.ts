/**
 * `npm run sandbox`: the service and the WeChat emulator wired to each other on one
 * machine, with demo credentials — the newcomer's way to click through the whole
 * authorization flow without a WeChat account. Uses Redis at REDIS_URL when one
 * answers, otherwise in-memory stores (one process, nothing kept; refused in production).
 */
import 'dotenv/config';
import type { Server } from 'node:http';
import { createApp } from '../app';
import { ConfigError, loadConfig, secretValues, type Config } from '../config';
import { createContainer, type Container } from '../container';
import { createHttpServer, listen, listenProblem } from '../http-server';
import { createLogger } from '../logger';
import { createRedis, waitUntilReady } from '../store/redis';
import { DEMO_CREDENTIALS } from './cli';
import { createEmulator } from './emulator';

const DEMO_INTERNAL_API_TOKEN = 'sandbox-internal-api-token';

function sandboxConfig(): Config {
  const emulatorPort = Number(process.env.SANDBOX_EMULATOR_PORT || 3100);
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  try {
    return loadConfig(process.env, {
      WECHAT_COMPONENT_APPID: DEMO_CREDENTIALS.componentAppId,
      WECHAT_COMPONENT_APPSECRET: DEMO_CREDENTIALS.componentAppSecret,
      WECHAT_COMPONENT_TOKEN: DEMO_CREDENTIALS.token,
      WECHAT_COMPONENT_AES_KEY: DEMO_CREDENTIALS.encodingAesKey,
      WECHAT_API_BASE_URL: emulatorUrl,
      WECHAT_LOGIN_PAGE_URL: `${emulatorUrl}/cgi-bin/componentloginpage`,
      WECHAT_MOBILE_LOGIN_PAGE_URL: `${emulatorUrl}/wxaopen/safe/bindcomponent`,
      INTERNAL_API_TOKEN: DEMO_INTERNAL_API_TOKEN,
      PLATFORM_NAME: 'wxopen-auth sandbox',
      REDIS_KEY_PREFIX: 'wxopen-sandbox',
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function chooseStorage(config: Config, logger: ReturnType<typeof createLogger>): Promise<Container> {
  const probe = createRedis(config.redis.url, createLogger('silent'));
  const answers = await waitUntilReady(probe, 1500);
  probe.disconnect();
  if (answers) {
    logger.info({ redis: config.redis.url.replace(/\/\/[^@]*@/, '//***@') }, 'sandbox storage: Redis');
    const container = createContainer(config, { logger });
    await container.storage.waitUntilReady(3000);
    return container;
  }
  if (config.nodeEnv === 'production') {
    process.stderr.write(`no Redis answers at REDIS_URL and in-memory storage is refused when NODE_ENV=production\n`);
    process.exit(1);
  }
  logger.warn('sandbox storage: IN-MEMORY (no Redis answers at REDIS_URL): one process only, nothing survives a restart');
  return createContainer(config, { logger, storage: 'memory' });
}

/** Set once the sandbox is up; until then a signal just ends the process cleanly. */
let stopSandbox: (() => Promise<void>) | undefined;
let stopping = false;

function onSignal(): void {
  if (stopping) return;
  stopping = true;
  // Never hang on the way out (a push in flight, a Redis that went away): 5 s, then exit anyway.
  setTimeout(() => process.exit(0), 5000).unref();
  void (stopSandbox ? stopSandbox() : Promise.resolve()).finally(() => process.exit(0));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function main(): Promise<void> {
  const config = sandboxConfig();
  const logger = createLogger(config.logLevel, undefined, secretValues(config));
  const container = await chooseStorage(config, logger);
  const apiUrl = new URL(config.wechat.apiBaseUrl);
  const emulator = createEmulator({
    componentAppId: config.component.appId,
    componentAppSecret: config.component.appSecret,
    token: config.component.token,
    encodingAesKey: config.component.aesKey,
    pushUrl: `http://127.0.0.1:${config.port}/auth`,
    // WeChat's rule: the authorization page is reached from, and returns to, the registered domain.
    registeredDomain: new URL(config.publicBaseUrl).hostname,
    ticketIntervalMs: Number(process.env.SANDBOX_TICKET_INTERVAL_MS || 600_000),
  });

  const server: Server = createHttpServer(createApp(container), config.http);
  await listen(server, config.port).catch((err: NodeJS.ErrnoException) => {
    process.stderr.write(`${listenProblem(err, config.port)}\n`);
    process.exit(1);
  });
  // The emulator pushes a ticket as soon as it listens, so the service must be up first.
  await emulator.listen(Number(apiUrl.port), apiUrl.hostname);
  container.start();

  process.stdout.write(
    [
      '',
      'wxopen-auth sandbox is running (the WeChat side is emulated; no account needed).',
      '',
      `  Authorize an account:   ${config.publicBaseUrl}/authorize`,
      `  Emulator console:       ${apiUrl.origin}/`,
      `  Readiness:              ${config.publicBaseUrl}/readyz`,
      `  Internal API bearer:    ${config.internalApiToken === DEMO_INTERNAL_API_TOKEN ? DEMO_INTERNAL_API_TOKEN : '(from INTERNAL_API_TOKEN)'}`,
      '',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );

  stopSandbox = async () => {
    await emulator.close();
    server.close();
    server.closeIdleConnections();
    await container.close();
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
