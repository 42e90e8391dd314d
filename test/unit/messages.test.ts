import { parseComponentPush } from '../../src/wechat/messages';
import { XmlFormatError } from '../../src/wechat/xml-reading';

describe('parseComponentPush (protocol.md §2)', () => {
  it('reads a ticket push in the documented bare form', () => {
    const xml = `<xml>
<AppId>some_appid</AppId>
<CreateTime>1413192605</CreateTime>
<InfoType>component_verify_ticket</InfoType>
<ComponentVerifyTicket>some_verify_ticket</ComponentVerifyTicket>
</xml>`;
    expect(parseComponentPush(xml)).toEqual({
      infoType: 'component_verify_ticket',
      appId: 'some_appid',
      createTime: 1413192605,
      ticket: 'some_verify_ticket',
    });
  });

  it('reads the CDATA form real pushes use, keeping values byte-exact', () => {
    const xml =
      '<xml><AppId><![CDATA[wx134c8103faa5a59e]]></AppId>\n<CreateTime>1712110558</CreateTime>\n' +
      '<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n' +
      '<ComponentVerifyTicket><![CDATA[ticket@@@ab+/= x]]></ComponentVerifyTicket>\n</xml>';
    const push = parseComponentPush(xml);
    expect(push).toMatchObject({ infoType: 'component_verify_ticket', ticket: 'ticket@@@ab+/= x' });
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
    expect(parseComponentPush(xml)).toEqual({
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
    expect(parseComponentPush(xml)).toEqual({
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
    expect(parseComponentPush(xml)).toEqual({
      infoType: 'unknown',
      rawInfoType: 'notify_third_fasteregister',
      appId: 'wxc',
      createTime: 1712110558,
    });
  });

  it.each([
    ['missing InfoType', '<xml><AppId>a</AppId><CreateTime>1</CreateTime></xml>', /InfoType/],
    ['missing ticket', '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>component_verify_ticket</InfoType></xml>', /ComponentVerifyTicket/],
    ['an AuthorizerAppid that is not an appid', '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>{../x}</AuthorizerAppid></xml>', /AuthorizerAppid> is not an appid/],
    ['empty code', '<xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType><AuthorizerAppid>wxauthorizer000001</AuthorizerAppid><AuthorizationCode></AuthorizationCode></xml>', /AuthorizationCode/],
    ['non-numeric CreateTime', '<xml><AppId>a</AppId><CreateTime>soon</CreateTime><InfoType>x</InfoType></xml>', /CreateTime/],
    ['a repeated element', '<xml><AppId>a</AppId><AppId>b</AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>', /AppId/],
    ['an element with children', '<xml><AppId><x>a</x></AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>', /AppId/],
    ['unclosed XML', '<xml><AppId>a</AppId>', /malformed/],
    ['not XML at all', 'hello', /malformed|no <xml>/],
    ['a DOCTYPE', '<!DOCTYPE xml><xml><AppId>a</AppId><CreateTime>1</CreateTime><InfoType>x</InfoType></xml>', /DOCTYPE/],
    ['an entity', '<!DOCTYPE x [<!ENTITY e "boom">]><xml><AppId>&e;</AppId></xml>', /DOCTYPE/],
  ])('refuses %s', (_label, xml, message) => {
    expect(() => parseComponentPush(xml)).toThrow(XmlFormatError);
    expect(() => parseComponentPush(xml)).toThrow(message);
  });
});
