import type { Config } from './config';
import { createLogger, type Logger } from './logger';
import { createKeys, type Keys } from './store/keys';
import { createRedis, type Redis } from './store/redis';

/**
 * Composition root: the only place that constructs Redis clients, WeChat
 * clients and services. Routes receive what they need from here.
 */
export interface Container {
  readonly config: Config;
  readonly logger: Logger;
  readonly redis: Redis;
  readonly keys: Keys;
  /** Stops background work and closes connections; safe to call twice. */
  close(): Promise<void>;
}

export interface ContainerOverrides {
  logger?: Logger;
  redis?: Redis;
}

export function createContainer(config: Config, overrides: ContainerOverrides = {}): Container {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const redis = overrides.redis ?? createRedis(config.redis.url, logger);
  const keys = createKeys(config.redis.keyPrefix, config.component.appId);
  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    redis,
    keys,
    close() {
      closed ??= (async () => {
        if (overrides.redis) return;
        // QUIT waits for a reply that never comes while Redis is down.
        if (redis.status === 'ready') await redis.quit().catch(() => undefined);
        redis.disconnect();
      })();
      return closed;
    },
  };
}
