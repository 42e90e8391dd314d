/**
 * WeChat's XML is flat: `<xml><Name>value</Name>…</xml>`, values bare or in CDATA, with `\n` between
 * elements. Only the text of the root's child elements matters, so this is a small, strict reader for
 * exactly that (no xml2js/sax on the push path: they were a quarter of its CPU, see docs/performance.md).
 *
 * Safety rules, each one tested (test/unit/flat-xml.test.ts):
 * - a DOCTYPE or an entity declaration never appears in a real push, so either one is refused outright,
 *   anywhere in the text (no DTD is ever read: no entity expansion, no XXE);
 * - only the five predefined entities and numeric character references are decoded; any other `&` is malformed;
 * - the document must be well-formed (every element closed by its own name, nothing but whitespace,
 *   comments or processing instructions outside the root, one root); anything else is an XmlFormatError;
 * - element names land in a null-prototype map, so `__proto__` or `constructor` are ordinary names;
 * - an element given twice, or with child elements, is kept as NOT_TEXT, never as one of its values:
 *   `textOf` refuses it, so a crafted document cannot sign one value and deliver another;
 * - deeper elements (newer InfoTypes carry some) are checked for well-formedness and skipped, iteratively
 *   (no recursion to exhaust), and attributes are checked and ignored.
 */

export class XmlFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlFormatError';
  }
}

/** What a child element that is not plain text (repeated, or with child elements) reads as. */
export const NOT_TEXT: unique symbol = Symbol('not plain text');
export type FlatXmlValue = string | typeof NOT_TEXT;
/** A null-prototype map from the root's child element names to their text. */
export type FlatXml = Record<string, FlatXmlValue>;

const FORBIDDEN_DECLARATION = /<!(DOCTYPE|ENTITY)/i;

export function assertNoDeclarations(text: string): void {
  if (FORBIDDEN_DECLARATION.test(text)) throw new XmlFormatError('XML with a DOCTYPE or ENTITY declaration is refused');
}

const LT = 0x3c; // <
const GT = 0x3e; // >
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const AMP = 0x26;
const EQ = 0x3d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

function malformed(reason: string, at: number): never {
  throw new XmlFormatError(`malformed XML: ${reason} (at offset ${at})`);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0x80;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}

/** A start tag read at `<`: its name, whether it closes itself (`<a/>`), and the index after `>`. */
interface StartTag {
  name: string;
  selfClosing: boolean;
  end: number;
}

/** Index after the name that starts at `start` (which must be a name). */
function nameEnd(text: string, start: number): number {
  if (start >= text.length || !isNameStart(text.charCodeAt(start))) malformed('expected an element name', start);
  let i = start + 1;
  while (i < text.length && isNameChar(text.charCodeAt(i))) i++;
  return i;
}

/** Reads `<name attr="v"…>` or `<name …/>`, `lt` at `<`. Attributes are checked, then ignored. */
function readStartTag(text: string, lt: number): StartTag {
  const end = nameEnd(text, lt + 1);
  const name = text.slice(lt + 1, end);
  let i = end;
  for (;;) {
    const spaceStart = i;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i >= text.length) malformed(`unclosed <${name}> tag`, lt);
    const c = text.charCodeAt(i);
    if (c === GT) return { name, selfClosing: false, end: i + 1 };
    if (c === SLASH) {
      if (text.charCodeAt(i + 1) !== GT) malformed(`expected /> in <${name}>`, i);
      return { name, selfClosing: true, end: i + 2 };
    }
    if (i === spaceStart) malformed(`expected whitespace before an attribute of <${name}>`, i);
    i = nameEnd(text, i);
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) !== EQ) malformed(`expected = after an attribute name in <${name}>`, i);
    i++;
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    const quote = text.charCodeAt(i);
    if (quote !== DQUOTE && quote !== SQUOTE) malformed(`expected a quoted attribute value in <${name}>`, i);
    const close = text.indexOf(quote === DQUOTE ? '"' : "'", i + 1);
    if (close < 0) malformed(`unclosed attribute value in <${name}>`, i);
    const value = text.slice(i + 1, close);
    if (value.includes('<')) malformed(`< in an attribute value of <${name}>`, i);
    if (value.includes('&')) decodeReferences(value, i + 1);
    i = close + 1;
  }
}

/** Reads `</name>` at `lt`, which must close `expected`; returns the index after `>`. */
function readEndTag(text: string, lt: number, expected: string): number {
  const end = nameEnd(text, lt + 2);
  if (end - lt - 2 !== expected.length || !text.startsWith(expected, lt + 2)) {
    malformed(`</${text.slice(lt + 2, end)}> does not close <${expected}>`, lt);
  }
  let i = end;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== GT) malformed(`unclosed </${expected}> tag`, lt);
  return i + 1;
}

const PREDEFINED: Readonly<Record<string, string>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, string>, { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }),
);

/** Character data with its references decoded; only the predefined entities and character references exist. */
function decodeReferences(raw: string, offset: number): string {
  let out = '';
  let from = 0;
  for (let amp = raw.indexOf('&'); amp >= 0; amp = raw.indexOf('&', from)) {
    const semi = raw.indexOf(';', amp + 1);
    if (semi < 0 || semi - amp > 12) malformed('unterminated character reference', offset + amp);
    const ref = raw.slice(amp + 1, semi);
    let decoded: string | undefined;
    if (ref.startsWith('#')) {
      const hex = ref.startsWith('#x');
      const digits = ref.slice(hex ? 2 : 1);
      const code = (hex ? /^[0-9a-fA-F]{1,6}$/ : /^[0-9]{1,7}$/).test(digits) ? parseInt(digits, hex ? 16 : 10) : NaN;
      const valid = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff));
      if (valid) decoded = String.fromCodePoint(code);
    } else {
      decoded = PREDEFINED[ref];
    }
    if (decoded === undefined) malformed(`unknown entity &${ref};`, offset + amp);
    out += raw.slice(from, amp) + decoded;
    from = semi + 1;
  }
  return out + raw.slice(from);
}

/**
 * Skips what may stand between elements besides text: a comment or a processing instruction (`<?xml …?>`).
 * `lt` is at `<`; returns the index after it, or -1 when `<` starts something else.
 */
function skipMisc(text: string, lt: number): number {
  const c = text.charCodeAt(lt + 1);
  if (c === QUESTION) {
    const end = text.indexOf('?>', lt + 2);
    if (end < 0) malformed('unclosed processing instruction', lt);
    return end + 2;
  }
  if (c === BANG && text.startsWith('<!--', lt)) {
    const end = text.indexOf('-->', lt + 4);
    if (end < 0) malformed('unclosed comment', lt);
    return end + 3;
  }
  return -1;
}

/** Text outside the root: whitespace, comments and processing instructions only. Returns the index of the next `<`, or the end. */
function skipProlog(text: string, from: number): number {
  let i = from;
  for (;;) {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i >= text.length) return i;
    if (text.charCodeAt(i) !== LT) malformed('text outside the root element', i);
    const next = skipMisc(text, i);
    if (next < 0) return i;
    i = next;
  }
}

const CDATA_OPEN = '<![CDATA[';

function hasAmpersand(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === AMP) return true;
  return false;
}

/**
 * Content of an element from `from` up to its end tag (exclusive of nested elements, which are walked and
 * skipped). Returns the decoded text, or NOT_TEXT when the element has child elements, and the index after
 * `</name>`.
 */
function readContent(text: string, from: number, name: string): { value: FlatXmlValue; end: number } {
  let value = '';
  let hasChildren = false;
  // Open elements below `name` while a nested subtree is being skipped.
  const open: string[] = [];
  let i = from;
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) malformed(`unclosed <${open.length ? open[open.length - 1] : name}>`, from);
    if (lt > i) {
      const raw = text.slice(i, lt);
      const chars = raw.includes('&') ? decodeReferences(raw, i) : raw;
      if (open.length === 0) value += chars;
    }
    const c = text.charCodeAt(lt + 1);
    if (c === SLASH) {
      if (open.length === 0) return { value: hasChildren ? NOT_TEXT : value, end: readEndTag(text, lt, name) };
      i = readEndTag(text, lt, open.pop()!);
      continue;
    }
    if (c === BANG && text.startsWith(CDATA_OPEN, lt)) {
      const end = text.indexOf(']]>', lt + CDATA_OPEN.length);
      if (end < 0) malformed('unclosed CDATA section', lt);
      if (open.length === 0) value += text.slice(lt + CDATA_OPEN.length, end);
      i = end + 3;
      continue;
    }
    const misc = skipMisc(text, lt);
    if (misc >= 0) {
      i = misc;
      continue;
    }
    if (c === BANG) malformed('unexpected <! markup', lt);
    const tag = readStartTag(text, lt);
    hasChildren = true;
    if (!tag.selfClosing) open.push(tag.name);
    i = tag.end;
  }
}

/**
 * Reads `<xml>…</xml>` into a null-prototype map of its child elements' text. Values are exactly the
 * text between the tags (CDATA sections as written, references decoded, no trimming); `<a/>` reads as ''.
 */
export function parseFlatXml(text: string): FlatXml {
  assertNoDeclarations(text);
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  i = skipProlog(text, i);
  if (i >= text.length) malformed('no root element', i);
  const root = readStartTag(text, i);
  const fields: FlatXml = Object.create(null) as FlatXml;
  let children = 0;
  i = root.end;
  if (!root.selfClosing) {
    for (;;) {
      const lt = text.indexOf('<', i);
      if (lt < 0) malformed(`unclosed <${root.name}>`, i);
      // Text directly in the root is not a field, but its references must still be well-formed.
      if (lt > i && hasAmpersand(text, i, lt)) decodeReferences(text.slice(i, lt), i);
      const c = text.charCodeAt(lt + 1);
      if (c === SLASH) {
        i = readEndTag(text, lt, root.name);
        break;
      }
      if (c === BANG && text.startsWith(CDATA_OPEN, lt)) {
        const end = text.indexOf(']]>', lt + CDATA_OPEN.length);
        if (end < 0) malformed('unclosed CDATA section', lt);
        i = end + 3;
        continue;
      }
      const misc = skipMisc(text, lt);
      if (misc >= 0) {
        i = misc;
        continue;
      }
      if (c === BANG) malformed('unexpected <! markup', lt);
      const tag = readStartTag(text, lt);
      let value: FlatXmlValue = '';
      i = tag.end;
      if (!tag.selfClosing) ({ value, end: i } = readContent(text, tag.end, tag.name));
      fields[tag.name] = tag.name in fields ? NOT_TEXT : value;
      children++;
    }
  }
  if (skipProlog(text, i) < text.length) malformed('content after the root element', i);
  if (children === 0) throw new XmlFormatError('XML has no <xml> element with children');
  return fields;
}

/**
 * The text of one element. An element given twice or with child elements (NOT_TEXT) is malformed:
 * WeChat never sends either, and silently picking one would let a crafted envelope sign one value and
 * deliver another.
 */
export function textOf(fields: FlatXml, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value !== 'string') throw new XmlFormatError(`<${name}> must appear once, with text only`);
  return value;
}

export function requiredText(fields: FlatXml, name: string): string {
  const value = textOf(fields, name);
  if (value === undefined || value === '') throw new XmlFormatError(`<${name}> is missing or empty`);
  return value;
}
