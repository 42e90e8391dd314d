import { ConfigError, loadConfig } from '../../src/config';
import { VALID_COMPONENT_ENV } from '../support/config';

const valid = VALID_COMPONENT_ENV;
const SECRET = 'x'.repeat(32);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...valid, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config: events, webhooks, internal listener and clients', () => {
  it('defaults: no webhooks, no internal port, stream cap 100 000, backoff 1 s → 5 min, dead letter after 24 h', () => {
    const config = loadConfig(valid);
    expect(config.internalPort).toBeUndefined();
    expect(config.internalApiClients).toEqual([]);
    expect(config.eventsMaxLen).toBe(100_000);
    expect(config.webhooks).toMatchObject({
      urls: [],
      secrets: [],
      retryBaseMs: 1000,
      retryMaxMs: 300_000,
      deadLetterAfterSeconds: 86400,
    });
  });

  it('accepts https:// URLs and http:// loopback ones, with one or several secrets', () => {
    const config = loadConfig({
      ...valid,
      WEBHOOK_URLS: 'https://hooks.example.com/wx, http://127.0.0.1:9000/x,http://localhost/y,http://[::1]:81/z',
      WEBHOOK_SECRET: `${SECRET},${'y'.repeat(40)}`,
    });
    expect(config.webhooks.urls).toEqual([
      'https://hooks.example.com/wx',
      'http://127.0.0.1:9000/x',
      'http://localhost/y',
      'http://[::1]:81/z',
    ]);
    expect(config.webhooks.secrets).toEqual([SECRET, 'y'.repeat(40)]);
  });

  it('one line per bad webhook setting', () => {
    expect(
      problemsOf({ WEBHOOK_URLS: 'ftp://files.example.com/x,https://user:pw@example.com/', WEBHOOK_SECRET: 'short' }),
    ).toEqual([
      'WEBHOOK_URLS: ftp://files.example.com: must be an https:// URL',
      'WEBHOOK_URLS: https://example.com: must not carry credentials (sign with WEBHOOK_SECRET)',
      'WEBHOOK_SECRET: every secret must be at least 32 characters',
    ]);
    expect(problemsOf({ WEBHOOK_URLS: ' , ', WEBHOOK_SECRET: SECRET })).toEqual([
      'WEBHOOK_URLS: must list at least one URL',
    ]);
    expect(
      problemsOf({
        WEBHOOK_URLS: 'https://a.example.com',
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_RETRY_BASE_MS: '5000',
        WEBHOOK_RETRY_MAX_MS: '1000',
      }),
    ).toEqual(['WEBHOOK_RETRY_MAX_MS: must be at least WEBHOOK_RETRY_BASE_MS']);
  });

  it('INTERNAL_API_TOKENS: named clients, the same name twice for a rotation; INTERNAL_API_TOKEN is the client "default"', () => {
    const other = 'z'.repeat(33);
    const config = loadConfig({
      ...valid,
      INTERNAL_API_TOKEN: 'd'.repeat(32),
      INTERNAL_API_TOKENS: `billing:${SECRET},billing:${other}`,
    });
    expect(config.internalApiClients).toEqual([
      { name: 'default', secret: 'd'.repeat(32) },
      { name: 'billing', secret: SECRET },
      { name: 'billing', secret: other },
    ]);
  });

  it('INTERNAL_API_TOKENS problems name the entry, never the secret', () => {
    const problems = problemsOf({
      INTERNAL_API_TOKENS: `nocolon,bad name:${SECRET},crm:tooshort,a:${SECRET},b:${SECRET}`,
    });
    expect(problems).toEqual([
      'INTERNAL_API_TOKENS: entry 1: must be name:secret (name of letters, digits, _ . -)',
      'INTERNAL_API_TOKENS: entry 2: must be name:secret (name of letters, digits, _ . -)',
      'INTERNAL_API_TOKENS: entry 3 ("crm"): the secret must be at least 32 characters',
      'INTERNAL_API_TOKENS: entry 5 ("b"): the same secret is listed twice',
    ]);
    expect(problems.join('\n')).not.toContain('tooshort');
  });

  it('INTERNAL_PORT must differ from PORT', () => {
    expect(problemsOf({ PORT: '3000', INTERNAL_PORT: '3000' })).toEqual(['INTERNAL_PORT: must differ from PORT']);
    expect(loadConfig({ ...valid, INTERNAL_PORT: '3001' }).internalPort).toBe(3001);
  });
});
