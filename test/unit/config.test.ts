import { ConfigError, loadConfig, secretValues } from '../../src/config';
import { VALID_COMPONENT_ENV } from '../support/config';

const valid = VALID_COMPONENT_ENV;

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
    expect(config.redis).toMatchObject({ url: 'redis://127.0.0.1:6379/0', keyPrefix: 'wxopen', db: 0 });
    expect(config.http).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 });
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

  it.each(['not-an-appid', 'wx123', 'wx{evil}:x', ' wx1234567890abcdef', 'wx1234567890abcdef ', 'wx1234567890abcdef0'])(
    'refuses WECHAT_COMPONENT_APPID %j with one line naming the appid rule',
    (appid) => {
      expect(problemsOf({ ...valid, WECHAT_COMPONENT_APPID: appid })).toEqual([
        'WECHAT_COMPONENT_APPID: must be a WeChat appid: "wx" followed by 16 letters or digits',
      ]);
    },
  );

  it.each(['t', 'ab', 'with space', 'dash-ed', '令牌令牌', 'a'.repeat(33)])(
    'refuses WECHAT_COMPONENT_TOKEN %j (3–32 letters or digits)',
    (token) => {
      expect(problemsOf({ ...valid, WECHAT_COMPONENT_TOKEN: token })).toEqual([
        'WECHAT_COMPONENT_TOKEN: must be 3 to 32 letters or digits, as the Open Platform console accepts',
      ]);
    },
  );

  it.each(['1', 'short-secret9', 'a secret with spaces ok', 'x'.repeat(65)])(
    'refuses WECHAT_COMPONENT_APPSECRET %j',
    (secret) => {
      const problems = problemsOf({ ...valid, WECHAT_COMPONENT_APPSECRET: secret });
      expect(problems).toEqual([
        expect.stringMatching(/^WECHAT_COMPONENT_APPSECRET: must be 16 to 64 visible ASCII characters/),
      ]);
      if (secret.length > 3) expect(problems.join('\n')).not.toContain(secret); // a secret is never echoed
    },
  );

  it('accepts a genuine-looking appid, token and secret', () => {
    const config = loadConfig({
      ...valid,
      WECHAT_COMPONENT_APPID: 'wx3c5a7e19b2d40f81',
      WECHAT_COMPONENT_TOKEN: 'abc',
      WECHAT_COMPONENT_APPSECRET: '0123456789abcdef0123456789abcdef',
    });
    expect(config.component).toMatchObject({
      appId: 'wx3c5a7e19b2d40f81',
      token: 'abc',
      appSecret: '0123456789abcdef0123456789abcdef',
    });
  });

  it('rejects malformed URLs and ports', () => {
    expect(
      problemsOf({
        ...valid,
        PUBLIC_BASE_URL: 'localhost:3000',
        WECHAT_API_BASE_URL: 'ftp://x',
        REDIS_URL: 'http://r',
      }),
    ).toEqual([
      'PUBLIC_BASE_URL: must be an absolute http(s) URL',
      'WECHAT_API_BASE_URL: must be an absolute http(s) URL',
      'REDIS_URL: must be a redis:// or rediss:// URL',
    ]);
    expect(problemsOf({ ...valid, PORT: '70000' })[0]).toMatch(/^PORT: /);
  });

  it('requires a long enough internal API token when one is set', () => {
    expect(problemsOf({ ...valid, INTERNAL_API_TOKEN: 'short' })).toEqual([
      'INTERNAL_API_TOKEN: must be at least 32 characters when set',
    ]);
    expect(loadConfig({ ...valid, INTERNAL_API_TOKEN: '' }).internalApiToken).toBeUndefined();
  });

  it('strips a trailing slash from PUBLIC_BASE_URL', () => {
    expect(loadConfig({ ...valid, PUBLIC_BASE_URL: 'https://auth.example.com/' }).publicBaseUrl).toBe(
      'https://auth.example.com',
    );
  });

  it('reads every numeric variable as a plain decimal integer, nothing coerced', () => {
    for (const port of ['0x1F', '4123e1', 'abc', '80.0', '+80', '-1', ' 80', '0']) {
      expect(problemsOf({ ...valid, PORT: port })).toEqual([
        `PORT: must be a decimal integer from 1 to 65535 (got "${port}")`,
      ]);
    }
    expect(loadConfig({ ...valid, PORT: '65535' }).port).toBe(65535);
    expect(
      problemsOf({
        ...valid,
        WECHAT_HTTP_TIMEOUT_MS: '3e3',
        REFRESHER_CONCURRENCY: '0x8',
        PUSH_MAX_AGE_SECONDS: '1.5',
      }),
    ).toEqual([
      'PUSH_MAX_AGE_SECONDS: must be a decimal integer from 60 to 86400 (got "1.5")',
      'WECHAT_HTTP_TIMEOUT_MS: must be a decimal integer from 100 to 60000 (got "3e3")',
      'REFRESHER_CONCURRENCY: must be a decimal integer from 1 to 256 (got "0x8")',
    ]);
  });

  it('refuses an internal API token a Bearer header cannot carry intact, without echoing it', () => {
    // Each at least 32 characters (issue 15), so the charset is the only problem.
    for (const token of [
      'has spaces inside it!! 0123456789abc',
      'ünïcödé-token-0123456789abcdefghijk',
      'tab\tseparated-0123456789abcdefghijk',
    ]) {
      const problems = problemsOf({ ...valid, INTERNAL_API_TOKEN: token });
      expect(problems).toEqual([expect.stringMatching(/^INTERNAL_API_TOKEN: must contain only the characters/)]);
      expect(problems[0]).not.toContain(token);
    }
    expect(loadConfig({ ...valid, INTERNAL_API_TOKEN: 'abc-DEF_0123.456~789+/0123456789ab==' }).internalApiToken).toBe(
      'abc-DEF_0123.456~789+/0123456789ab==',
    );
  });

  it("takes REDIS_URL's database from its path and refuses one that is not a decimal integer", () => {
    expect(loadConfig({ ...valid, REDIS_URL: 'redis://h:1/7' }).redis.db).toBe(7);
    expect(loadConfig({ ...valid, REDIS_URL: 'redis://h:1' }).redis.db).toBe(0);
    expect(loadConfig({ ...valid, REDIS_URL: 'redis://h:1/' }).redis.db).toBe(0);
    for (const path of ['abc', '-1', '0x2', '1.5', '99999999999']) {
      expect(problemsOf({ ...valid, REDIS_URL: `redis://h:1/${path}` })).toEqual([
        `REDIS_URL: the database (path "/${path}") must be a decimal integer from 0 to 2147483647`,
      ]);
    }
  });

  it('takes the server timeouts from the environment, the header timeout no longer than the request timeout', () => {
    expect(
      loadConfig({
        ...valid,
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '4000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      }).http,
    ).toEqual({
      headersTimeoutMs: 2000,
      requestTimeoutMs: 4000,
      keepAliveTimeoutMs: 65000,
    });
    expect(problemsOf({ ...valid, HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' })).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (4000)',
    ]);
  });

  it('lists every configured secret value for the logger', () => {
    const bearer = 'internal-token-0123456789abcdefghij';
    const client = 'billing-token-0123456789abcdefghijk';
    const webhook = 'webhook-secret-0123456789abcdefghij';
    const config = loadConfig({
      ...valid,
      INTERNAL_API_TOKEN: bearer,
      INTERNAL_API_TOKENS: `billing:${client}`,
      WEBHOOK_URLS: 'https://h.example.com/x',
      WEBHOOK_SECRET: webhook,
    });
    expect(secretValues(config).sort()).toEqual(
      [
        bearer,
        bearer,
        client,
        webhook,
        valid.WECHAT_COMPONENT_APPSECRET,
        valid.WECHAT_COMPONENT_TOKEN,
        valid.WECHAT_COMPONENT_AES_KEY,
      ].sort(),
    );
  });
});

describe('config: TOKEN_ENCRYPTION_KEYS and AUTHORIZER_SCHEDULE_SHARDS', () => {
  const key32 = Buffer.alloc(32, 7).toString('base64');
  const key16 = Buffer.alloc(16, 7).toString('base64');

  it('defaults to no key (plaintext at rest) and 16 schedule shards', () => {
    const config = loadConfig(valid);
    expect(config.tokenEncryptionKeys).toEqual([]);
    expect(config.scheduleShards).toBe(16);
  });

  it('parses id:base64key entries in order (the first encrypts)', () => {
    const config = loadConfig({
      ...valid,
      TOKEN_ENCRYPTION_KEYS: `k2:${key32}, k1:${Buffer.alloc(32, 1).toString('base64')}`,
      AUTHORIZER_SCHEDULE_SHARDS: '64',
    });
    expect(config.tokenEncryptionKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(config.tokenEncryptionKeys[0]!.key).toEqual(Buffer.alloc(32, 7));
    expect(config.scheduleShards).toBe(64);
    expect(Object.isFrozen(config.tokenEncryptionKeys)).toBe(true);
  });

  it('reports each bad key on its own line, never the key material', () => {
    const problems = problemsOf({
      ...valid,
      TOKEN_ENCRYPTION_KEYS: `short:${key16},nocolon,dup:${key32},dup:${key32},bad id:${key32},b64:not*base64`,
    });
    expect(problems).toEqual([
      'TOKEN_ENCRYPTION_KEYS: key "short": must decode to 32 bytes (got 16)',
      'TOKEN_ENCRYPTION_KEYS: entry 2: must be id:base64key',
      'TOKEN_ENCRYPTION_KEYS: entry 4: key id "dup" appears twice',
      'TOKEN_ENCRYPTION_KEYS: entry 5: key id must be 1-32 letters, digits, _ or -',
      'TOKEN_ENCRYPTION_KEYS: key "b64": must be base64',
    ]);
    for (const problem of problems) expect(problem).not.toContain(key32);
    expect(problemsOf({ ...valid, TOKEN_ENCRYPTION_KEYS: ',' })).toEqual([
      'TOKEN_ENCRYPTION_KEYS: must list at least one id:base64key when set',
    ]);
    expect(problemsOf({ ...valid, AUTHORIZER_SCHEDULE_SHARDS: '0' })[0]).toMatch(/^AUTHORIZER_SCHEDULE_SHARDS: /);
  });
});
