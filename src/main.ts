import 'dotenv/config';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp, createInternalApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createContainer, type Container } from './container';
import { createHttpServer, listen, listenProblem } from './http-server';
import { StorageLayoutMismatchError } from './errors';

const SHUTDOWN_DEADLINE_MS = 10_000;

function readConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Ends the process before it serves or refreshes anything: one line on stderr, exit 1. */
async function refuseToStart(container: Container, line: string): Promise<never> {
  process.stderr.write(`${line}\n`);
  await container.close().catch(() => undefined);
  process.exit(1);
}

/**
 * When Redis cannot SELECT REDIS_URL's database (out of its `databases` range), ioredis reports it as a
 * connection error and goes on in database 0: another tenant's data. Checked on every (re)connection;
 * the process stops rather than write there.
 */
function requireRedisDatabase(container: Container): Promise<void> {
  const { db } = container.config.redis;
  const redis = container.redis;
  const check = async (): Promise<void> => {
    try {
      await redis.select(db);
    } catch (err) {
      if (redis.status !== 'ready') return; // the connection went away again; the next 'ready' checks
      await refuseToStart(
        container,
        `config error: REDIS_URL: Redis cannot select database ${db}: ${(err as Error).message}`,
      );
    }
  };
  redis.on('ready', () => void check());
  return redis.status === 'ready' ? check() : Promise.resolve();
}

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const container = createContainer(config);
  const { logger } = container;
  const redisReady = await container.storage.waitUntilReady(3000);
  if (!redisReady) logger.warn('redis is not reachable yet; starting anyway (GET /readyz reports it)');
  await requireRedisDatabase(container);
  if (!redisReady) void prepareStorageOnceReachable(container);
  else {
    // Layout check, migration of the previous layout, sealing of plaintext refresh tokens: before serving.
    await container
      .prepareStorage()
      .catch((err: unknown) => refuseToStart(container, `fatal: storage not prepared: ${(err as Error).message}`));
  }
  const server: Server = createHttpServer(createApp(container), config.http);
  let internalServer: Server | undefined;
  // Before the port opens: a SIGTERM that comes as soon as the first answer is out is a clean stop, not a kill.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    force.unref();
    const closeServer = (s: Server | undefined) =>
      new Promise<void>((resolve) => {
        if (!s) return resolve();
        s.close(() => resolve());
        s.closeIdleConnections();
      });
    void Promise.all([closeServer(server), closeServer(internalServer)]).then(async () => {
      await container.close();
      logger.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Nothing runs in the background (no refresher, no call to WeChat) until the port is ours.
  await listen(server, config.port).catch((err: NodeJS.ErrnoException) =>
    refuseToStart(container, listenProblem(err, config.port)),
  );
  logger.info({ port: config.port, publicBaseUrl: config.publicBaseUrl }, 'wxopen-auth listening');
  if (stopping) return;
  // INTERNAL_PORT: the internal API, /metrics and the admin surfaces get their own listener (docs/events.md).
  if (config.internalPort !== undefined) {
    const internalPort = config.internalPort;
    internalServer = createHttpServer(createInternalApp(container), config.http);
    await listen(internalServer, internalPort).catch((err: NodeJS.ErrnoException) =>
      refuseToStart(container, listenProblem(err, internalPort)),
    );
    logger.info({ internalPort }, 'internal listener: /internal, /metrics and the admin surfaces');
  }
  // The refresher keeps tokens fresh in the background; close() stops it before Redis is closed.
  if (!stopping) container.start();
}

/** Redis was down at start: prepare it when it answers (reads meanwhile also understand the previous layout). */
async function prepareStorageOnceReachable(container: Container): Promise<void> {
  for (;;) {
    if (await container.storage.waitUntilReady(5000)) {
      try {
        await container.prepareStorage();
        return;
      } catch (err) {
        if (err instanceof StorageLayoutMismatchError)
          await refuseToStart(container, `fatal: storage not prepared: ${err.message}`);
        container.logger.warn({ err: { message: (err as Error).message } }, 'storage not prepared yet; retrying');
      }
    }
    // Not ref'd: a shutdown (SIGTERM) does not wait for the next try.
    await sleep(5000, undefined, { ref: false });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).message}\n`);
  process.exit(1);
});
