import { loadConfig, type Config } from '../../src/config';
import { TEST_ENCRYPTION_KEYS } from './account-keys';
import { testRedisEnv, uniquePrefix } from './redis';

/** Demo component credentials shared by tests and the emulator (never real ones). */
export const TEST_COMPONENT = {
  appId: 'wx0000000component',
  appSecret: 'test-component-secret-0123456789',
  token: 'testpushtoken',
  aesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
} as const;

/** The four required variables with valid values: the base of the config unit tests' environments. */
export const VALID_COMPONENT_ENV = Object.freeze({
  WECHAT_COMPONENT_APPID: 'wx1234567890abcdef',
  WECHAT_COMPONENT_APPSECRET: 'component-secret-0123456789abcdef',
  WECHAT_COMPONENT_TOKEN: 'token',
  WECHAT_COMPONENT_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
});

export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    WECHAT_COMPONENT_APPID: TEST_COMPONENT.appId,
    WECHAT_COMPONENT_APPSECRET: TEST_COMPONENT.appSecret,
    WECHAT_COMPONENT_TOKEN: TEST_COMPONENT.token,
    WECHAT_COMPONENT_AES_KEY: TEST_COMPONENT.aesKey,
    // A test that points the service at its own Redis leaves the shared topology out.
    ...(overrides.REDIS_URL || overrides.REDIS_SENTINELS || overrides.REDIS_CLUSTER_NODES ? {} : testRedisEnv()),
    REDIS_KEY_PREFIX: uniquePrefix(),
    LOG_LEVEL: 'silent',
    REFRESHER_ENABLED: 'false',
    TOKEN_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides));
}
