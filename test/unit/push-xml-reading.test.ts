import { buildPushEventXml, parsePushEventXml, type PushEvent } from '../../src/wechat/push-xml';
import { XmlFormatError } from '../../src/wechat/xml-reading';

describe('parsePushEventXml (protocol.md §2)', () => {
  it('reads a ticket push in the documented bare form', () => {
    const xml = `<xml>
<AppId>some_appid</AppId>
<CreateTime>1413192605</CreateTime>
<InfoType>component_verify_ticket</InfoType>
<ComponentVerifyTicket>some_verify_ticket</ComponentVerifyTicket>
</xml>`;
    expect(parsePushEventXml(xml)).toEqual({
      infoType: 'component_verify_ticket',
      appId: 'some_appid',
      createTime: 1413192605,
      componentVerifyTicket: 'some_verify_ticket',
    });
  });

  it('reads the CDATA form real pushes use, keeping values byte-exact', () => {
    const xml =
      '<xml><AppId><![CDATA[wx134c8103faa5a59e]]></AppId>\n<CreateTime>1712110558</CreateTime>\n' +
      '<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n' +
      '<ComponentVerifyTicket><![CDATA[ticket@@@ab+/= x]]></ComponentVerifyTicket>\n</xml>';
    const push = parsePushEventXml(xml);
    expect(push).toMatchObject({ infoType: 'component_verify_ticket', componentVerifyTicket: 'ticket@@@ab+/= x' });
  });

  it.each(['authorized', 'updateauthorized'] as const)('reads %s with every documented field', (infoType) => {
    const xml = `<xml>
  <AppId><![CDATA[wxcomponent]]></AppId>
  <CreateTime>1413192760</CreateTime>
  <InfoType><![CDATA[${infoType}]]></InfoType>
  <AuthorizerAppid><![CDATA[wxauthorizer000001]]></AuthorizerAppid>
  <AuthorizationCode><![CDATA[queryauthcode@@@abc]]></AuthorizationCode>
  <AuthorizationCodeExpiredTime>1413196360</AuthorizationCodeExpiredTime>
  <PreAuthCode><![CDATA[preauthcode@@@xyz]]></PreAuthCode>
</xml>`;
    expect(parsePushEventXml(xml)).toEqual({
      infoType,
      appId: 'wxcomponent',
      createTime: 1413192760,
      authorizerAppid: 'wxauthorizer000001',
      authorizationCode: 'queryauthcode@@@abc',
      authorizationCodeExpiredTime: 1413196360,
      preAuthCode: 'preauthcode@@@xyz',
    });
  });

  it('reads unauthorized (no code fields)', () => {
    const xml =
      '<xml><AppId>wxcomponent</AppId><CreateTime>1413192760</CreateTime><InfoType>unauthorized</InfoType>' +
      '<AuthorizerAppid>wxauthorizer000001</AuthorizerAppid></xml>';
    expect(parsePushEventXml(xml)).toEqual({
      infoType: 'unauthorized',
      appId: 'wxcomponent',
      createTime: 1413192760,
      authorizerAppid: 'wxauthorizer000001',
    });
  });

  it('keeps unknown InfoTypes as `unknown` with their name', () => {
    const xml =
      '<xml><AppId><![CDATA[wxc]]></AppId>\n<CreateTime>1712110558</CreateTime>\n' +
      '<InfoType><![CDATA[notify_third_fasteregister]]></InfoType><status>0</status><info><name>x</name></info></xml>';
    expect(parsePushEventXml(xml)).toEqual({
      infoType: 'unknown',
      rawInfoType: 'notify_third_fasteregister',
      appId: 'wxc',
      createTime: 1712110558,
    });
  });

  it.each([
    ['missing InfoType', '<xml><AppId>a</AppId><CreateTime>1</CreateTime></xml>', /InfoType/],
    [
      'missing ticket',
      '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket</InfoType></xml>',
      /ComponentVerifyTicket/,
    ],
    [
      'an AuthorizerAppid that is not an appid',
      '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>{../x}</AuthorizerAppid></xml>',
      /AuthorizerAppid> is not an appid/,
    ],
    [
      'empty code',
      '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType><AuthorizerAppid>wxauthorizer000001</AuthorizerAppid><AuthorizationCode></AuthorizationCode></xml>',
      /AuthorizationCode/,
    ],
    [
      'non-numeric CreateTime',
      '<xml><AppId>a</AppId><CreateTime>soon</CreateTime><InfoType>x</InfoType></xml>',
      /CreateTime/,
    ],
    [
      'a repeated element',
      '<xml><AppId>a</AppId><AppId>b</AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>',
      /AppId/,
    ],
    [
      'an element with children',
      '<xml><AppId><x>a</x></AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>',
      /AppId/,
    ],
    ['unclosed XML', '<xml><AppId>a</AppId>', /malformed/],
    ['not XML at all', 'hello', /malformed|no <xml>/],
    [
      'a DOCTYPE',
      '<!DOCTYPE xml><xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>',
      /DOCTYPE/,
    ],
    ['an entity', '<!DOCTYPE x [<!ENTITY e "boom">]><xml><AppId>&e;</AppId></xml>', /DOCTYPE/],
  ])('refuses %s', (_label, xml, message) => {
    expect(() => parsePushEventXml(xml)).toThrow(XmlFormatError);
    expect(() => parsePushEventXml(xml)).toThrow(message);
  });

  const events: PushEvent[] = [
    {
      infoType: 'component_verify_ticket',
      appId: 'wx0000000component',
      createTime: 1712110558,
      componentVerifyTicket: 'ticket@@@a&b<c>]]>d',
    },
    {
      infoType: 'authorized',
      appId: 'wx0000000component',
      createTime: 1413192760,
      authorizerAppid: 'wxf8b4f85f3a794e77',
      authorizationCode: 'queryauthcode@@@xyz',
      authorizationCodeExpiredTime: 1413196360,
      preAuthCode: 'preauthcode@@@123',
    },
    {
      infoType: 'updateauthorized',
      appId: 'wx0000000component',
      createTime: 2,
      authorizerAppid: 'wxf8b4f85f3a794e77',
      authorizationCode: 'c',
    },
    { infoType: 'unauthorized', appId: 'wx0000000component', createTime: 3, authorizerAppid: 'wxf8b4f85f3a794e77' },
  ];
  it.each(events.flatMap((event) => [true, false].map((cdata) => [event.infoType, cdata, event] as const)))(
    'one model: %s built (CDATA: %s) reads back as the same event',
    (_infoType, cdata, event) => {
      const read = parsePushEventXml(buildPushEventXml(event, { cdata }));
      expect(Object.fromEntries(Object.entries(read).filter(([, v]) => v !== undefined))).toEqual(event);
    },
  );
});
