import { cdata } from '../../src/wechat/push-xml';
import { NESTED, XmlFormatError, parseXmlFields, requiredText, textOf } from '../../src/wechat/xml-reading';

/**
 * src/wechat/xml-reading.ts: xml2js with the safety rules around it. One case (at least) per rule; the rules the
 * hand-written reader it replaced got wrong are marked "(issue 13)".
 */
const refuses = (xml: string, message: RegExp) => {
  expect(() => parseXmlFields(xml)).toThrow(XmlFormatError);
  expect(() => parseXmlFields(xml)).toThrow(message);
};

describe('parseXmlFields (the push payload reader)', () => {
  it('reads CDATA and bare values byte-exact, keeping whitespace', () => {
    const fields = parseXmlFields(
      '<xml><AppId><![CDATA[wx134c8103faa5a59e]]></AppId>\n<CreateTime>1712110558</CreateTime>\n' +
        '<Ticket><![CDATA[ ticket@@@ab+/= x ]]></Ticket>\n<Spaces>  </Spaces><Empty></Empty><Closed/><Multi>a<![CDATA[<b>]]>c</Multi>\n</xml>',
    );
    expect({ ...fields }).toEqual({
      AppId: 'wx134c8103faa5a59e',
      CreateTime: '1712110558',
      Ticket: ' ticket@@@ab+/= x ',
      Spaces: '  ',
      Empty: '',
      Closed: '',
      Multi: 'a<b>c',
    });
  });

  it('decodes the predefined entities and character references, and joins CDATA split around ]]>', () => {
    const fields = parseXmlFields(
      `<xml><A>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</A><B>&#65;&#x42;&#x1F600;</B><C>${cdata('x]]>y')}</C></xml>`,
    );
    expect([fields.A, fields.B, fields.C]).toEqual(['<a> & "q" \'s\'', 'AB😀', 'x]]>y']);
  });

  it('accepts an XML declaration, a BOM, comments, processing instructions and attributes, and ignores them', () => {
    const fields = parseXmlFields(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- pushed -->\n<xml lang="zh"><A x="1" y=\'2\'>v<!-- c --></A><?pi x?><B z = "&amp;"/></xml>\n<!-- end -->\n',
    );
    expect({ ...fields }).toEqual({ A: 'v', B: '' });
  });

  it('rule: the result is a null-prototype map; an element with child elements is NESTED, which textOf refuses', () => {
    const fields = parseXmlFields('<xml><B><x>b</x></B><C>t<y/>u</C><D><![CDATA[d]]></D></xml>');
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect([fields.B, fields.C]).toEqual([NESTED, NESTED]);
    expect(() => textOf(fields, 'B')).toThrow(/<B> must hold text only/);
    expect(textOf(fields, 'D')).toBe('d');
    expect(textOf(fields, 'toString')).toBeUndefined();
    expect(textOf(fields, 'missing')).toBeUndefined();
    expect(() => requiredText(fields, 'missing')).toThrow(/<missing> is missing or empty/);
  });

  it('rule: CR LF and lone CR are normalised to LF (XML 1.0 §2.11), in CDATA too (issue 13)', () => {
    const fields = parseXmlFields('<xml>\r\n<A>a\r\nb\rc</A>\r\n<B><![CDATA[x\r\ny]]></B>\r\n</xml>\r\n');
    expect([fields.A, fields.B]).toEqual(['a\nb\nc', 'x\ny']);
  });

  it('rule: "<!DOCTYPE" inside CDATA is text, not a declaration (issue 13)', () => {
    expect(parseXmlFields('<xml><A><![CDATA[<!DOCTYPE x [<!ENTITY e "boom">]>]]></A></xml>').A).toBe(
      '<!DOCTYPE x [<!ENTITY e "boom">]>',
    );
  });

  it('walks deep elements (newer InfoTypes) without recursion', () => {
    const deep = `${'<n>'.repeat(20_000)}x${'</n>'.repeat(20_000)}`;
    const fields = parseXmlFields(`<xml><InfoType>notify</InfoType><info>${deep}</info></xml>`);
    expect([fields.InfoType, fields.info]).toEqual(['notify', NESTED]);
  });

  it.each([
    // DOCTYPE / ENTITY: no DTD is ever read.
    ['a DOCTYPE', '<!DOCTYPE xml><xml><A>a</A></xml>', /DOCTYPE or ENTITY/],
    ['an entity declaration', '<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>', /DOCTYPE or ENTITY/],
    ['a declaration in lower case', '<!doctype xml><xml><A>a</A></xml>', /DOCTYPE or ENTITY/],
    ['an undeclared entity', '<xml><A>&xxe;</A></xml>', /malformed XML/],
    ['a bare &', '<xml><A>a & b</A></xml>', /malformed XML/],
    ['a reference to NUL', '<xml><A>&#0;</A></xml>', /malformed XML/],
    // The root is <xml> (issue 13).
    ['a root other than <xml>', '<foo><A>a</A></foo>', /root element must be <xml>/],
    ['an empty root', '<xml/>', /no child elements/],
    ['a root with text only', '<xml>hello</xml>', /no child elements/],
    // No loose text in the root (issue 13).
    ['loose text in the root', '<xml>hello<A>a</A></xml>', /text directly inside <xml>/],
    ['loose text after a child', '<xml><A>a</A>tail</xml>', /text directly inside <xml>/],
    // "]]>" only closes CDATA (issue 13).
    ['"]]>" in text', '<xml><A>a]]>b</A></xml>', /"]]>" is not allowed in text/],
    // Attributes are ignored, but a duplicate one is malformed (issue 13).
    ['a duplicate attribute', '<xml><A x="1" x="2">a</A></xml>', /<A> has a duplicate attribute/],
    ['a duplicate attribute on the root', '<xml v="1" v=\'1\'><A>a</A></xml>', /<xml> has a duplicate attribute/],
    // No element repeated: one signed value, one delivered value.
    ['a repeated element', '<xml><A>1</A><A>2</A></xml>', /<A> appears more than once/],
    // Names of Object.prototype members would be merged with them.
    [
      'an element named __proto__',
      '<xml><__proto__><polluted>1</polluted></__proto__><a>1</a></xml>',
      /<__proto__> is refused/,
    ],
    ['an element named constructor', '<xml><constructor>c</constructor></xml>', /<constructor> is refused/],
    // One root, nothing after it.
    ['two root elements', '<xml><A>a</A></xml><xml><A>b</A></xml>', /content after the root/],
    ['text after the root', '<xml><A>a</A></xml>junk', /content after the root/],
    // Well-formedness: what sax refuses.
    ['text before the root', 'hello<xml><A>a</A></xml>', /malformed XML/],
    ['unclosed XML', '<xml><A>a</A>', /malformed XML|no XML document/],
    ['a mismatched end tag', '<xml><A>a</B></xml>', /malformed XML/],
    ['an unclosed CDATA section', '<xml><A><![CDATA[a</A></xml>', /malformed XML|no XML document/],
    ['an unquoted attribute', '<xml><A x=1>a</A></xml>', /malformed XML/],
    ['an empty document', '', /no XML document/],
  ])('refuses %s', (_label, xml, message) => refuses(xml, message));

  it('nothing leaks into Object.prototype whatever the names', () => {
    expect(() => parseXmlFields('<xml><__proto__><polluted>1</polluted></__proto__></xml>')).toThrow(XmlFormatError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
