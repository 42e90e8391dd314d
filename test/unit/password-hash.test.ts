import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/password-hash';
import { ConfigError, loadConfig } from '../../src/config';
import { VALID_COMPONENT_ENV } from '../support/config';

const base = VALID_COMPONENT_ENV;

describe('console password hashes (scrypt)', () => {
  let hash: string;
  beforeAll(async () => {
    hash = await hashPassword('correct horse battery staple');
  });

  it('are scrypt.N.r.p.salt.key with no character a list, a shell or docker-compose would split or expand', () => {
    expect(hash).toMatch(/^scrypt\.32768\.8\.1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  });

  it('verify the right password only, and differ for the same password (salt)', async () => {
    const parsed = parsePasswordHash(hash);
    expect(parsed).toBeDefined();
    expect(await verifyPassword('correct horse battery staple', parsed!)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', parsed!)).toBe(false);
    expect(await verifyPassword('', parsed!)).toBe(false);
    expect(await hashPassword('correct horse battery staple')).not.toBe(hash);
  });

  it.each([
    '',
    'scrypt',
    'bcrypt.16384.8.1.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    'scrypt.1000.8.1.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    'scrypt.16384.0.1.aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    'scrypt.16384.8.1.short.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  ])('refuse malformed %j', (text) => {
    expect(parsePasswordHash(text)).toBeUndefined();
  });

  it('CONSOLE_USERS lists name:hash pairs; bad entries stop the start with one line each', () => {
    const config = loadConfig({ ...base, CONSOLE_USERS: `ops:${hash}, alice@example.com:${hash}` });
    expect([...(config.console?.users.keys() ?? [])]).toEqual(['ops', 'alice@example.com']);
    expect(config.console?.sessionTtlSeconds).toBe(8 * 3600);
    expect(loadConfig(base).console).toBeUndefined();
    expect(loadConfig({ ...base, CONSOLE_USERS: '' }).console).toBeUndefined();
    const problems = (() => {
      try {
        loadConfig({ ...base, CONSOLE_USERS: `ops:${hash},ops:${hash},bob:plaintext,bad name:${hash}` });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    })();
    expect(problems).toEqual([
      'CONSOLE_USERS: user "ops" is listed twice',
      'CONSOLE_USERS: user "bob": expected name:scrypt-hash (npm run console:hash-password prints one)',
      'CONSOLE_USERS: user "bad name": names are 1-64 of A-Z a-z 0-9 _ . @ -',
    ]);
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', CONSOLE_USERS: `ops:${hash}` })).toThrow(
      /CONSOLE_SESSION_SECRET/,
    );
    expect(() => loadConfig({ ...base, CONSOLE_SESSION_SECRET: 'short' })).toThrow(/CONSOLE_SESSION_SECRET/);
  });
});
