import { isDeepStrictEqual } from 'node:util';
import { Parser } from 'xml2js';
import { cdata } from '../../src/wechat/push-xml';
import { NOT_TEXT, XmlFormatError, parseFlatXml, requiredText, textOf, type FlatXml } from '../../src/wechat/xml';

/** What the push path used before this reader: xml2js, strict, as src/wechat/xml.ts configured it. */
function parseWithXml2js(text: string): Record<string, unknown> {
  let result: unknown;
  let failure: unknown;
  new Parser({
    explicitArray: false,
    explicitRoot: false,
    trim: false,
    normalize: false,
    normalizeTags: false,
    ignoreAttrs: true,
    strict: true,
    async: false,
  }).parseString(text, (err: unknown, parsed: unknown) => {
    failure = err;
    result = parsed;
  });
  if (failure) throw failure;
  return result as Record<string, unknown>;
}

const own = (fields: FlatXml) => Object.keys(fields).sort();

describe('parseFlatXml (the push path\'s XML reader)', () => {
  it('reads CDATA and bare values byte-exact, keeping whitespace', () => {
    const fields = parseFlatXml(
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
    const fields = parseFlatXml(
      `<xml><A>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</A><B>&#65;&#x42;&#x1F600;</B><C>${cdata('x]]>y')}</C></xml>`,
    );
    expect(fields.A).toBe('<a> & "q" \'s\'');
    expect(fields.B).toBe('AB😀');
    expect(fields.C).toBe('x]]>y');
  });

  it('accepts an XML declaration, a BOM, comments, processing instructions and attributes, and ignores them', () => {
    const fields = parseFlatXml(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- pushed -->\n<xml lang="zh"><A x="1" y=\'2\'>v<!-- c --></A><?pi x?><B z = "&amp;"/></xml>\n<!-- end -->\n',
    );
    expect({ ...fields }).toEqual({ A: 'v', B: '' });
  });

  it('keeps a repeated element or one with child elements as NOT_TEXT, which textOf refuses', () => {
    const fields = parseFlatXml('<xml><A>1</A><A>2</A><B><x>b</x></B><C>t<y/>u</C><D><![CDATA[d]]></D></xml>');
    expect(fields.A).toBe(NOT_TEXT);
    expect(fields.B).toBe(NOT_TEXT);
    expect(fields.C).toBe(NOT_TEXT);
    expect(() => textOf(fields, 'A')).toThrow(/<A> must appear once/);
    expect(() => textOf(fields, 'B')).toThrow(/<B> must appear once/);
    expect(textOf(fields, 'D')).toBe('d');
    expect(textOf(fields, 'missing')).toBeUndefined();
    expect(() => requiredText(fields, 'missing')).toThrow(XmlFormatError);
  });

  it('walks deeper elements (newer InfoTypes) without recursion, however deep', () => {
    const depth = 20_000;
    const deep = `${'<n>'.repeat(depth)}x${'</n>'.repeat(depth)}`;
    const fields = parseFlatXml(`<xml><InfoType>notify</InfoType><info>${deep}</info></xml>`);
    expect(fields.InfoType).toBe('notify');
    expect(fields.info).toBe(NOT_TEXT);
    expect(() => parseFlatXml(`<xml><info>${deep.slice(0, -4)}</info></xml>`)).toThrow(XmlFormatError);
  });

  it('puts element names in a null-prototype map: no prototype pollution, no inherited names', () => {
    const fields = parseFlatXml(
      '<xml><__proto__><polluted>1</polluted></__proto__><constructor>c</constructor><hasOwnProperty>h</hasOwnProperty><a>1</a></xml>',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(own(fields)).toEqual(['__proto__', 'a', 'constructor', 'hasOwnProperty']);
    expect(textOf(fields, 'constructor')).toBe('c');
    expect(textOf(fields, 'toString')).toBeUndefined();
    expect(() => textOf(fields, '__proto__')).toThrow(XmlFormatError);
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE xml><xml><A>a</A></xml>', /DOCTYPE or ENTITY/],
    ['an entity declaration', '<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>', /DOCTYPE or ENTITY/],
    ['a declaration in lower case, anywhere', '<xml><A><![CDATA[<!entity]]></A></xml>', /DOCTYPE or ENTITY/],
    ['an undeclared entity', '<xml><A>&e;</A></xml>', /unknown entity &e;/],
    ['an external-looking entity', '<xml><A>&xxe;</A></xml>', /unknown entity/],
    ['a bare &', '<xml><A>a & b</A></xml>', /character reference|unknown entity/],
    ['a reference to NUL', '<xml><A>&#0;</A></xml>', /unknown entity/],
    ['a reference to a surrogate', '<xml><A>&#xD800;</A></xml>', /unknown entity/],
    ['a reference past Unicode', '<xml><A>&#x110000;</A></xml>', /unknown entity/],
    ['an unknown entity in an attribute', '<xml><A x="&e;">a</A></xml>', /unknown entity/],
    ['an unknown entity in the root\'s own text', '<xml>&e;<A>a</A></xml>', /unknown entity/],
    ['an unknown entity in a nested element', '<xml><A><b>&e;</b></A></xml>', /unknown entity/],
    ['unclosed XML', '<xml><A>a</A>', /malformed XML: unclosed <xml>/],
    ['an unclosed element', '<xml><A>a</xml>', /malformed XML/],
    ['a mismatched end tag', '<xml><A>a</B></xml>', /<\/B> does not close <A>/],
    ['an end tag that only starts like the start tag', '<xml><A>a</AB></xml>', /does not close <A>/],
    ['a nested mismatch', '<xml><A><b>x</c></A></xml>', /does not close <b>/],
    ['text before the root', 'hello<xml><A>a</A></xml>', /text outside the root/],
    ['not XML at all', 'hello', /malformed XML/],
    ['an empty document', '', /no root element/],
    ['two root elements', '<xml><A>a</A></xml><xml><A>b</A></xml>', /content after the root/],
    ['text after the root', '<xml><A>a</A></xml>junk', /content after the root|text outside the root/],
    ['a root without child elements', '<xml>hello</xml>', /no <xml> element with children/],
    ['an empty root', '<xml/>', /no <xml> element with children/],
    ['an unclosed CDATA section', '<xml><A><![CDATA[a</A></xml>', /unclosed CDATA/],
    ['an unclosed comment', '<xml><A>a</A><!-- x</xml>', /unclosed comment/],
    ['an unclosed processing instruction', '<?xml version="1.0"<xml><A>a</A></xml>', /unclosed processing instruction/],
    ['other <! markup', '<xml><!ELEMENT a ANY><A>a</A></xml>', /unexpected <! markup/],
    ['an unquoted attribute', '<xml><A x=1>a</A></xml>', /quoted attribute value/],
    ['< in an attribute value', '<xml><A x="<">a</A></xml>', /< in an attribute value/],
    ['an attribute without a value', '<xml><A x>a</A></xml>', /expected =/],
    ['attributes run together', '<xml><A x="1"y="2">a</A></xml>', /whitespace before an attribute/],
    ['a bad element name', '<xml><1A>a</1A></xml>', /expected an element name/],
    ['a lone <', '<xml><A>a < b</A></xml>', /expected an element name/],
    ['a truncated start tag', '<xml><A', /unclosed <A> tag/],
  ])('refuses %s', (_label, xml, message) => {
    expect(() => parseFlatXml(xml)).toThrow(XmlFormatError);
    expect(() => parseFlatXml(xml)).toThrow(message);
  });

  describe('reads what xml2js read (the reader it replaced), on generated documents', () => {
    // A small deterministic generator (no Math.random: a failure must be reproducible).
    let seed = 0x2f6b_1a3d;
    const next = (n: number) => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      return seed % n;
    };
    const pick = <T,>(xs: readonly T[]): T => xs[next(xs.length)]!;
    const NAMES = ['AppId', 'CreateTime', 'InfoType', 'ComponentVerifyTicket', 'Encrypt', 'a', 'b_c', 'x.y', 'ns:z', '名字'];
    const PIECES = ['ticket@@@', 'abc', ' ', '\n', '\r', '\t', '&', '<', '>', '"', "'", ']]>', ']]', '中文', '😀', '=', '+/', '0', '-->', '?>'];
    const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const value = () => Array.from({ length: next(6) }, () => pick(PIECES)).join('');
    const element = (name: string): string => {
      switch (next(8)) {
        case 0:
          return `<${name}/>`;
        case 1:
          return `<${name} attr="${escape(value()).replace(/"/g, '&quot;')}">${escape(value())}</${name}>`;
        case 2:
          return `<${name}>${escape(value())}<!-- note -->${cdata(value())}</${name}>`;
        case 3:
          return `<${name}><inner>${escape(value())}</inner></${name}>`;
        case 4:
          return `<${name}>${escape(value())}</${name}>`;
        default:
          return `<${name}>${cdata(value())}</${name}>`;
      }
    };
    const documents = Array.from({ length: 400 }, () => {
      const children = Array.from({ length: 1 + next(6) }, () => element(pick(NAMES)));
      return `<xml>${children.join(pick(['', '\n', '\n  ']))}</xml>`;
    });

    it(`${documents.length} documents: the same names, the same text, NOT_TEXT where xml2js gave an array or an object`, () => {
      const mismatches: Array<{ xml: string; expected: unknown; got: unknown }> = [];
      for (const xml of documents) {
        const parsed = parseWithXml2js(xml);
        const expected = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : NOT_TEXT]));
        const got = { ...parseFlatXml(xml) };
        if (!isDeepStrictEqual(got, expected)) mismatches.push({ xml, expected, got });
      }
      expect(mismatches).toEqual([]);
    });
  });
});
