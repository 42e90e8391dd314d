import {
  buildMobileAuthorizationUrl,
  buildPcAuthorizationUrl,
  MOBILE_AUTHORIZATION_PAGE,
  PC_AUTHORIZATION_PAGE,
} from '../../src/wechat/authorization-url';

const params = {
  componentAppId: 'wx1234567890abcdef',
  preAuthCode: 'preauthcode@@@Cx_Dk6qiBE0',
  redirectUri: 'https://auth.example.com/auth?from=menu&lang=zh_CN',
};

describe('buildPcAuthorizationUrl', () => {
  it('builds the componentloginpage URL with the parameters in documented order and redirect_uri encoded whole', () => {
    expect(buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, params)).toBe(
      'https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wx1234567890abcdef' +
        '&pre_auth_code=preauthcode%40%40%40Cx_Dk6qiBE0' +
        '&redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%3Ffrom%3Dmenu%26lang%3Dzh_CN' +
        '&auth_type=3',
    );
  });

  it('decodes back to the exact redirect_uri, including its own query', () => {
    const url = new URL(buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, params));
    expect(url.searchParams.get('redirect_uri')).toBe(params.redirectUri);
    expect(url.searchParams.get('pre_auth_code')).toBe(params.preAuthCode);
    expect([...url.searchParams.keys()]).toEqual(['component_appid', 'pre_auth_code', 'redirect_uri', 'auth_type']);
  });

  it('adds auth_type, biz_appid and category_id_list when given', () => {
    const url = buildPcAuthorizationUrl('http://127.0.0.1:4000/cgi-bin/componentloginpage', {
      ...params,
      authType: 2,
      bizAppId: 'wxabc',
      categoryIdList: [99, 31],
    });
    expect(url).toMatch(/&auth_type=2&biz_appid=wxabc&category_id_list=99%7C31$/);
    expect(new URL(url).searchParams.get('category_id_list')).toBe('99|31');
    expect(url.startsWith('http://127.0.0.1:4000/cgi-bin/componentloginpage?component_appid=')).toBe(true);
  });

  it('appends to a base that already has a query and drops its fragment', () => {
    const url = buildPcAuthorizationUrl('https://x.test/page?lang=en#top', params);
    expect(url.startsWith('https://x.test/page?lang=en&component_appid=')).toBe(true);
    expect(url).not.toContain('#');
  });

  it('encodes spaces as %20, not +', () => {
    const url = buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, { ...params, redirectUri: 'https://a.test/x?q=a b' });
    expect(url).toContain('redirect_uri=https%3A%2F%2Fa.test%2Fx%3Fq%3Da%20b');
  });

  it('rejects missing values, a relative redirect_uri and a bad auth_type', () => {
    expect(() => buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, { ...params, preAuthCode: '' })).toThrow(/preAuthCode/);
    expect(() => buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, { ...params, redirectUri: '/auth' })).toThrow(
      /redirectUri/,
    );
    expect(() => buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, { ...params, authType: 4 as never })).toThrow(
      /authType/,
    );
    expect(() => buildPcAuthorizationUrl('not a url', params)).toThrow(/base/);
    expect(() => buildPcAuthorizationUrl(PC_AUTHORIZATION_PAGE, { ...params, categoryIdList: [0] })).toThrow(
      RangeError,
    );
  });
});

describe('buildMobileAuthorizationUrl', () => {
  it('starts with action=bindcomponent&no_scan=1 and ends with #wechat_redirect', () => {
    const url = buildMobileAuthorizationUrl(MOBILE_AUTHORIZATION_PAGE, { ...params, authType: 1, bizAppId: 'wxabc' });
    expect(url).toBe(
      'https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1' +
        '&component_appid=wx1234567890abcdef&pre_auth_code=preauthcode%40%40%40Cx_Dk6qiBE0' +
        '&redirect_uri=https%3A%2F%2Fauth.example.com%2Fauth%3Ffrom%3Dmenu%26lang%3Dzh_CN' +
        '&auth_type=1&biz_appid=wxabc#wechat_redirect',
    );
  });

  it('works with the old mp.weixin.qq.com host too', () => {
    const url = new URL(buildMobileAuthorizationUrl('https://mp.weixin.qq.com/safe/bindcomponent', params));
    expect(url.hash).toBe('#wechat_redirect');
    expect(url.searchParams.get('redirect_uri')).toBe(params.redirectUri);
  });
});
