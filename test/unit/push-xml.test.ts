import { parseStringPromise } from 'xml2js';
import { MsgCrypt } from '../../src/wechat/crypto';
import { buildEncryptedEnvelopeXml, buildPushEventXml, buildXml, cdata } from '../../src/wechat/push-xml';

const APPID = 'wx1234567890abcdef';

async function parse(xml: string): Promise<Record<string, string>> {
  const doc = (await parseStringPromise(xml, { explicitArray: false })) as { xml: Record<string, string> };
  return doc.xml;
}

describe('buildPushEventXml', () => {
  it('builds component_verify_ticket with CDATA strings, a bare CreateTime and a newline after each element', () => {
    const xml = buildPushEventXml({
      infoType: 'component_verify_ticket',
      appId: APPID,
      createTime: 1413192605,
      componentVerifyTicket: 'ticket@@@abc',
    });
    expect(xml).toBe(
      '<xml><AppId><![CDATA[wx1234567890abcdef]]></AppId>\n' +
        '<CreateTime>1413192605</CreateTime>\n' +
        '<InfoType><![CDATA[component_verify_ticket]]></InfoType>\n' +
        '<ComponentVerifyTicket><![CDATA[ticket@@@abc]]></ComponentVerifyTicket>\n' +
        '</xml>',
    );
  });

  it.each(['authorized', 'updateauthorized'] as const)(
    'builds %s with every documented field in order',
    async (infoType) => {
      const xml = buildPushEventXml({
        infoType,
        appId: APPID,
        createTime: 1413192760,
        authorizerAppid: 'wxf8b4f85f3a794e77',
        authorizationCode: 'queryauthcode@@@xyz',
        authorizationCodeExpiredTime: 1413196360,
        preAuthCode: 'preauthcode@@@123',
      });
      expect(xml).toBe(
        '<xml><AppId><![CDATA[wx1234567890abcdef]]></AppId>\n' +
          '<CreateTime>1413192760</CreateTime>\n' +
          `<InfoType><![CDATA[${infoType}]]></InfoType>\n` +
          '<AuthorizerAppid><![CDATA[wxf8b4f85f3a794e77]]></AuthorizerAppid>\n' +
          '<AuthorizationCode><![CDATA[queryauthcode@@@xyz]]></AuthorizationCode>\n' +
          '<AuthorizationCodeExpiredTime>1413196360</AuthorizationCodeExpiredTime>\n' +
          '<PreAuthCode><![CDATA[preauthcode@@@123]]></PreAuthCode>\n' +
          '</xml>',
      );
      expect(await parse(xml)).toEqual({
        AppId: APPID,
        CreateTime: '1413192760',
        InfoType: infoType,
        AuthorizerAppid: 'wxf8b4f85f3a794e77',
        AuthorizationCode: 'queryauthcode@@@xyz',
        AuthorizationCodeExpiredTime: '1413196360',
        PreAuthCode: 'preauthcode@@@123',
      });
    },
  );

  it('builds unauthorized with only AppId, CreateTime, InfoType and AuthorizerAppid', async () => {
    const xml = buildPushEventXml({ infoType: 'unauthorized', appId: APPID, createTime: 1, authorizerAppid: 'wxabc' });
    expect(Object.keys(await parse(xml))).toEqual(['AppId', 'CreateTime', 'InfoType', 'AuthorizerAppid']);
    expect(xml.endsWith('<AuthorizerAppid><![CDATA[wxabc]]></AuthorizerAppid>\n</xml>')).toBe(true);
  });

  it('refuses a non-integer time and an unknown InfoType', () => {
    expect(() =>
      buildPushEventXml({
        infoType: 'component_verify_ticket',
        appId: APPID,
        createTime: 1.5,
        componentVerifyTicket: 't',
      }),
    ).toThrow(RangeError);
    expect(() => buildPushEventXml({ infoType: 'nope', appId: APPID, createTime: 1 } as never)).toThrow(/InfoType/);
  });
});

describe('cdata and buildXml', () => {
  it('splits a ]]> inside the text so a parser reads the text back unchanged', async () => {
    const tricky = 'a]]>b<c>&d';
    expect(cdata(tricky)).toBe('<![CDATA[a]]]]><![CDATA[>b<c>&d]]>');
    expect(await parse(buildXml([['Value', tricky]]))).toEqual({ Value: tricky });
  });

  it('keeps non-ASCII text as is', async () => {
    expect(await parse(buildXml([['Name', '湖畔咖啡']]))).toEqual({ Name: '湖畔咖啡' });
  });

  it('refuses characters XML cannot carry and bad element names', () => {
    expect(() => cdata('a\u0001b')).toThrow(RangeError);
    expect(() => buildXml([['1bad', 'x']])).toThrow(/element name/);
  });
});

describe('buildEncryptedEnvelopeXml', () => {
  it('wraps AppId and Encrypt like the authorization-event pushes, and round-trips through MsgCrypt', async () => {
    const crypt = new MsgCrypt({ token: 'tok', encodingAesKey: 'a'.repeat(43), appId: APPID });
    const inner = buildPushEventXml({
      infoType: 'unauthorized',
      appId: APPID,
      createTime: 2,
      authorizerAppid: 'wxabc',
    });
    const { encrypt, msgSignature } = crypt.seal(inner, '1700000000', '123456789');
    const envelope = buildEncryptedEnvelopeXml(APPID, encrypt);
    expect(envelope).toBe(
      `<xml><AppId><![CDATA[${APPID}]]></AppId>\n<Encrypt><![CDATA[${encrypt}]]></Encrypt>\n</xml>`,
    );
    const parsed = await parse(envelope);
    expect(parsed.AppId).toBe(APPID);
    const opened = crypt.open({
      msgSignature,
      timestamp: '1700000000',
      nonce: '123456789',
      encrypt: parsed.Encrypt as string,
    });
    expect(opened.message).toBe(inner);
  });
});
