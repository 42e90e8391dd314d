import { appIdSchema, authCodeSchema, authTypeSchema, isAppId, pushQuerySchema } from '../../src/wechat/identifiers';

describe('WeChat identifiers (src/wechat/identifiers.ts)', () => {
  it.each(['wx3c5a7e19b2d40f81', 'wx0000000component', 'wxABCDEF0123456789'])('%s is an appid', (appid) => {
    expect(isAppId(appid)).toBe(true);
    expect(appIdSchema.safeParse(appid).success).toBe(true);
  });

  it.each([
    'not-an-appid',
    'wx123',
    'wx{evil}:x',
    ' wx3c5a7e19b2d40f81',
    'wx3c5a7e19b2d40f81 ',
    'wx3c5a7e19b2d40f810',
    'WX3c5a7e19b2d40f81',
    'wx3c5a7e19b2d40f8}',
    '../../../../etc/pw',
    'wx3c5a7e19b2d40f8\n',
    '',
  ])('%j is not an appid', (value) => {
    expect(isAppId(value)).toBe(false);
    expect(appIdSchema.safeParse(value).success).toBe(false);
  });

  it('auth_code and auth_type', () => {
    expect(authCodeSchema.safeParse('queryauthcode@@@abc-DEF_0').success).toBe(true);
    expect(authCodeSchema.safeParse('with space').success).toBe(false);
    expect(authCodeSchema.safeParse('x'.repeat(513)).success).toBe(false);
    expect(['1', '2', '3', '0', '12'].map((t) => authTypeSchema.safeParse(t).success)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  describe('the push query', () => {
    const ok = {
      timestamp: '1712110558',
      nonce: '1590219412',
      msg_signature: 'a'.repeat(40),
      encrypt_type: 'aes',
      signature: 'b'.repeat(40),
    };

    it('accepts what WeChat sends, with or without the optional parameters', () => {
      expect(pushQuerySchema.parse(ok)).toEqual(ok);
      const { encrypt_type: _e, signature: _s, ...bare } = ok;
      expect(pushQuerySchema.parse(bare)).toEqual(bare);
    });

    it.each([
      [{ timestamp: undefined }, /timestamp is required \(once\)/],
      [{ timestamp: ['1', '2'] }, /timestamp is required \(once\)/],
      [{ timestamp: '17e9' }, /timestamp must be Unix seconds/],
      [{ nonce: '' }, /nonce is required/],
      [{ nonce: 'a b' }, /nonce must be/],
      [{ msg_signature: ['a', 'b'] }, /msg_signature is required \(once\)/],
      [{ msg_signature: 'a b' }, /msg_signature must be visible ASCII/],
      [{ encrypt_type: 'raw' }, /encrypt_type must be aes/],
      [{ encrypt_type: ['aes', 'aes'] }, /encrypt_type is required \(once\)/],
    ])('refuses %j', (change, message) => {
      const parsed = pushQuerySchema.safeParse({ ...ok, ...change });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.message).toMatch(message);
    });
  });
});
