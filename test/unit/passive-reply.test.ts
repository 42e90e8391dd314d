import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MsgCrypt } from '../../src/wechat/crypto';
import { buildEncryptedReplyXml, buildTextReplyXml } from '../../src/wechat/passive-reply';
import { releaseTestAccount, releaseTestCase } from '../../src/wechat/release-test';

interface Vector {
  kind: string;
  token: string;
  encodingAESKey: string;
  appId: string;
  timestamp: string;
  nonce: string;
  msgSignature: string;
  encrypt: string;
  plaintext: string;
  random16?: string;
}

const peers = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/vectors/peers.json'), 'utf8')) as Vector[];

describe('passive replies (protocol.md §3.6)', () => {
  const vector = peers.find((v) => v.kind === 'encrypt_reply' && v.random16);

  it("seals a reply byte for byte like wechatpy's published test", () => {
    if (!vector) throw new Error('the encrypt_reply vector is missing from test/fixtures/vectors/peers.json');
    const crypt = new MsgCrypt({ token: vector.token, encodingAesKey: vector.encodingAESKey, appId: vector.appId });
    const sealed = crypt.seal(vector.plaintext, vector.timestamp, vector.nonce, {
      random16: Buffer.from(vector.random16 as string, 'utf8'),
    });
    expect(sealed).toEqual({ encrypt: vector.encrypt, msgSignature: vector.msgSignature });
    expect(buildEncryptedReplyXml({ ...sealed, timestamp: vector.timestamp, nonce: vector.nonce })).toBe(
      `<xml>\n<Encrypt><![CDATA[${vector.encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[${vector.msgSignature}]]></MsgSignature>\n<TimeStamp>${vector.timestamp}</TimeStamp>\n<Nonce><![CDATA[${vector.nonce}]]></Nonce>\n</xml>`,
    );
  });

  it('refuses a TimeStamp that is not digits', () => {
    expect(() => buildEncryptedReplyXml({ encrypt: 'e', msgSignature: 's', timestamp: '1<x>', nonce: 'n' })).toThrow(
      RangeError,
    );
  });

  it('addresses a text reply back to the sender', () => {
    expect(buildTextReplyXml({ toUser: 'oUser', fromUser: 'gh_1', createTime: 1, content: 'a]]>b' })).toBe(
      '<xml><ToUserName><![CDATA[oUser]]></ToUserName>\n<FromUserName><![CDATA[gh_1]]></FromUserName>\n<CreateTime>1</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[a]]]]><![CDATA[>b]]></Content>\n</xml>',
    );
  });
});

describe('the release test cases (protocol.md §7)', () => {
  it('knows every test account by appid and by original id, and no other', () => {
    expect(releaseTestAccount('wx570bc396a51b8ff8')?.group).toBe(1);
    expect(releaseTestAccount('wx0000000000000000', 'gh_7818dcb60240')).toMatchObject({
      group: 5,
      kind: 'mini_program',
    });
    expect(releaseTestAccount('wx3c5a7e19b2d40f81', 'gh_7e2b94c1d0a3')).toBeUndefined();
  });

  it.each([
    [
      { MsgType: 'text', Content: 'TESTCOMPONENT_MSG_TYPE_TEXT' },
      { kind: 'text', reply: 'TESTCOMPONENT_MSG_TYPE_TEXT_callback' },
    ],
    [
      { MsgType: 'text', Content: 'QUERY_AUTH_CODE:queryauthcode@@@abc' },
      { kind: 'api', queryAuthCode: 'queryauthcode@@@abc', reply: 'queryauthcode@@@abc_from_api' },
    ],
    [
      { MsgType: 'event', Event: 'LOCATION' },
      { kind: 'event', reply: 'LOCATIONfrom_callback' },
    ],
    [{ MsgType: 'text', Content: 'QUERY_AUTH_CODE:' }, undefined],
    [{ MsgType: 'text', Content: 'hello' }, undefined],
    [{ MsgType: 'image' }, undefined],
  ])('%j → %j', (fields, expected) => {
    expect(releaseTestCase(fields)).toEqual(expected);
  });
});
