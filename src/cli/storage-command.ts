import 'dotenv/config';
import pino from 'pino';
import { ConfigError, loadConfig, secretValues, type Config, type RedisTopology } from '../config';
import { createContainer, type Container } from '../container';
import { createLogger } from '../logger';

/**
 * The frame of a CLI that works on the service's storage (`npm run recover`, `npm run reencrypt`): the service's
 * own configuration (environment or .env; `config error:` lines and exit 1 when it is wrong), logs on stderr with the
 * configured secrets redacted by value, a container without the refresher, Redis reachable within 5 s, one
 * `<name>: …` line for a failure, the container closed, and the exit code `work` returns.
 */
export function runStorageCommand(
  name: string,
  work: (container: Container, config: Config) => Promise<number>,
  precheck: (config: Config) => string | undefined = () => undefined,
): void {
  run(name, work, precheck).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`fatal: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}

async function run(
  name: string,
  work: (container: Container, config: Config) => Promise<number>,
  precheck: (config: Config) => string | undefined,
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
    return 1;
  }
  const refusal = precheck(config);
  if (refusal) {
    process.stderr.write(`${name}: ${refusal}\n`);
    return 1;
  }
  const logger = createLogger(config.logLevel, pino.destination({ dest: 2, sync: true }), secretValues(config));
  const container = createContainer(config, { logger });
  try {
    if (!(await container.storage.waitUntilReady(5000))) {
      process.stderr.write(`${name}: ${describeRedis(config.redis.topology)} is not reachable\n`);
      return 1;
    }
    return await work(container, config);
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await container.close();
  }
}

/** Where the command looked, without credentials. */
function describeRedis(topology: RedisTopology): string {
  const list = (nodes: readonly { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (topology.kind) {
    case 'standalone':
      return `Redis at ${new URL(topology.url).host}`;
    case 'sentinel':
      return `the Redis master '${topology.name}' (sentinels ${list(topology.sentinels)})`;
    case 'cluster':
      return `the Redis Cluster at ${list(topology.nodes)}`;
  }
}
