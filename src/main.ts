import 'dotenv/config';
import type { Server } from 'node:http';
import { createApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createContainer } from './container';

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

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const container = createContainer(config);
  const { logger } = container;
  if (!(await container.storage.waitUntilReady(3000))) {
    logger.warn('redis is not reachable yet; starting anyway (GET /readyz reports it)');
  }
  const app = createApp(container);
  const server: Server = app.listen(config.port, () => {
    logger.info({ port: config.port, publicBaseUrl: config.publicBaseUrl }, 'wxopen-auth listening');
    // The refresher keeps tokens fresh in the background; close() stops it before Redis is closed.
    container.start();
  });

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
    server.close(async () => {
      await container.close();
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${(err as Error).message}\n`);
  process.exit(1);
});
