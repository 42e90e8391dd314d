import { ConfigError, loadConfig } from '../../src/config';

const valid = {
  WECHAT_COMPONENT_APPID: 'wx1234567890abcdef',
  WECHAT_COMPONENT_APPSECRET: 'secret',
  WECHAT_COMPONENT_TOKEN: 'token',
  WECHAT_COMPONENT_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig(valid);
    expect(config.port).toBe(3000);
    expect(config.publicBaseUrl).toBe('http://localhost:3000');
    expect(config.wechat.apiBaseUrl).toBe('https://api.weixin.qq.com');
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379/0', keyPrefix: 'wxopen' });
    expect(config.tokenRefreshMarginSeconds).toBe(900);
    expect(config.internalApiToken).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.component)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('names every missing required variable, one line each', () => {
    expect(problemsOf({})).toEqual([
      'WECHAT_COMPONENT_APPID: is required',
      'WECHAT_COMPONENT_APPSECRET: is required',
      'WECHAT_COMPONENT_TOKEN: is required',
      'WECHAT_COMPONENT_AES_KEY: is required',
    ]);
  });

  it('rejects an AES key of 42 characters', () => {
    expect(problemsOf({ ...valid, WECHAT_COMPONENT_AES_KEY: 'A'.repeat(42) })).toEqual([
      'WECHAT_COMPONENT_AES_KEY: must be exactly 43 characters (got 42)',
    ]);
  });

  it('rejects an AES key with characters outside [A-Za-z0-9]', () => {
    expect(problemsOf({ ...valid, WECHAT_COMPONENT_AES_KEY: `${'A'.repeat(42)}+` })).toEqual([
      'WECHAT_COMPONENT_AES_KEY: must contain only letters and digits [A-Za-z0-9]',
    ]);
  });

  it('checks the previous AES key too', () => {
    expect(problemsOf({ ...valid, WECHAT_COMPONENT_PREVIOUS_AES_KEY: 'short' })).toEqual([
      'WECHAT_COMPONENT_PREVIOUS_AES_KEY: must be exactly 43 characters (got 5)',
    ]);
  });

  it('rejects malformed URLs and ports', () => {
    expect(
      problemsOf({ ...valid, PUBLIC_BASE_URL: 'localhost:3000', WECHAT_API_BASE_URL: 'ftp://x', REDIS_URL: 'http://r' }),
    ).toEqual([
      'PUBLIC_BASE_URL: must be an absolute http(s) URL',
      'WECHAT_API_BASE_URL: must be an absolute http(s) URL',
      'REDIS_URL: must be a redis:// or rediss:// URL',
    ]);
    expect(problemsOf({ ...valid, PORT: '70000' })[0]).toMatch(/^PORT: /);
  });

  it('requires a long enough internal API token when one is set', () => {
    expect(problemsOf({ ...valid, INTERNAL_API_TOKEN: 'short' })).toEqual([
      'INTERNAL_API_TOKEN: must be at least 16 characters when set',
    ]);
    expect(loadConfig({ ...valid, INTERNAL_API_TOKEN: '' }).internalApiToken).toBeUndefined();
  });

  it('strips a trailing slash from PUBLIC_BASE_URL', () => {
    expect(loadConfig({ ...valid, PUBLIC_BASE_URL: 'https://auth.example.com/' }).publicBaseUrl).toBe(
      'https://auth.example.com',
    );
  });
});
