import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createContainer } from '../../src/container';
import { createLogger, redactUrl, secretValueMatcher } from '../../src/logger';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger redaction', () => {
  it('redacts secrets and tokens at any depth', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    logger.info(
      {
        body: {
          component_appsecret: 'SECRET-1',
          authorization_info: { authorizer_access_token: 'TOKEN-2', authorizer_refresh_token: 'REFRESH-3' },
          list: [{ refresh_token: 'REFRESH-4' }],
        },
        ComponentVerifyTicket: 'ticket@@@TICKET-5',
        AuthorizationCode: 'queryauthcode@@@CODE-6',
        aesKey: 'KEY-7',
        headers: { authorization: 'Bearer BEARER-8' },
        authorizer_appid: 'wx-visible',
      },
      'event',
    );
    const out = lines.join('');
    for (const secret of ['SECRET-1', 'TOKEN-2', 'REFRESH-3', 'REFRESH-4', 'TICKET-5', 'CODE-6', 'KEY-7', 'BEARER-8']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('wx-visible');
    expect(out).toContain('[redacted]');
  });

  it('redacts secret query parameters in logged URLs', () => {
    expect(redactUrl('/auth?auth_code=queryauthcode@@@abc&expires_in=600')).toBe(
      '/auth?auth_code=[redacted]&expires_in=600',
    );
    expect(redactUrl('/x?component_access_token=T&access_token=U')).toBe(
      '/x?component_access_token=[redacted]&access_token=[redacted]',
    );
    const { lines, stream } = capture();
    createLogger('info', stream).info({ url: 'https://api.example/cgi?component_access_token=SEKRIT' }, 'call');
    expect(lines.join('')).not.toContain('SEKRIT');
  });
});

describe('request logging', () => {
  it('logs method, redacted URL and status of a request, and never its secrets', async () => {
    const { lines, stream } = capture();
    const config = loadConfig({
      WECHAT_COMPONENT_APPID: 'wx1234567890abcdef',
      WECHAT_COMPONENT_APPSECRET: 'APPSECRET-VALUE-0123',
      WECHAT_COMPONENT_TOKEN: 'token',
      WECHAT_COMPONENT_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      REDIS_URL: 'redis://127.0.0.1:1/0',
      LOG_LEVEL: 'info',
    });
    const container = createContainer(config, { logger: createLogger('info', stream) });
    try {
      await request(createApp(container))
        .get('/nothing-here?auth_code=CODE-SECRET&x=1')
        .set('Authorization', 'Bearer BEARER-SECRET')
        .expect(404);
      const out = lines.join('');
      expect(out).toContain('"url":"/nothing-here?auth_code=[redacted]&x=1"');
      expect(out).toContain('"statusCode":404');
      for (const secret of ['CODE-SECRET', 'BEARER-SECRET', 'APPSECRET-VALUE-0123']) expect(out).not.toContain(secret);
    } finally {
      await container.close();
    }
  });
});

describe('redaction by value', () => {
  const BEARER = 'bearer-Value_0123456789+/==';
  const SECRET = 'app"secret\\with-quote';

  it('removes each configured secret from every line, whatever field, message or binding carries it', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream, [BEARER, SECRET]);
    logger
      .child({ caller: `x${BEARER}y` })
      .warn({ url: `/internal/authorizers/${BEARER}/access-token`, note: { deep: [SECRET] } }, `saw ${BEARER}`);
    logger.info({ url: `/x?q=${encodeURIComponent(BEARER)}` }, 'encoded');
    const out = lines.join('');
    expect(out).not.toContain(BEARER);
    expect(out).not.toContain(encodeURIComponent(BEARER));
    expect(out).not.toContain(JSON.stringify(SECRET).slice(1, -1));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({
      caller: 'x[redacted]y',
      url: '/internal/authorizers/[redacted]/access-token',
      msg: 'saw [redacted]',
      note: { deep: ['[redacted]'] },
    });
    expect(parsed[1]).toMatchObject({ url: '/x?q=[redacted]' });
  });

  it('redacts request and response headers that carry credentials, by path', () => {
    const { lines, stream } = capture();
    createLogger('info', stream).info(
      { req: { headers: { cookie: 'sid=COOKIE-1', host: 'h' } }, res: { headers: { 'set-cookie': 'sid=COOKIE-2' } } },
      'headers',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/COOKIE-[12]/);
    expect(out).toContain('"host":"h"');
  });

  it('decodes percent-escapes in logged URLs, so an escaped secret is found too', () => {
    const { lines, stream } = capture();
    const escaped = BEARER.replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
    createLogger('info', stream, [BEARER]).info(
      { url: redactUrl(`/internal/authorizers/${escaped}/access-token`) },
      'escaped',
    );
    expect(lines.join('')).toContain('"url":"/internal/authorizers/[redacted]/access-token"');
  });

  it('removes the longest secret whole when one contains another, and matches nothing when none is configured', () => {
    expect(
      'a-long-secret-0123 and short-0'.replace(secretValueMatcher(['short-0', 'a-long-secret-0123'])!, '[r]'),
    ).toBe('[r] and [r]');
    expect('a.c'.replace(secretValueMatcher(['a.c'])!, '[r]')).toBe('[r]');
    expect('abc'.replace(secretValueMatcher(['a.c'])!, '[r]')).toBe('abc');
    expect(secretValueMatcher([])).toBeUndefined();
    expect(secretValueMatcher(['', ''])).toBeUndefined();
  });
});
