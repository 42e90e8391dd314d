/**
 * Reading WeChat's XML: `<xml><Name>value</Name>…</xml>`, values bare or in CDATA. body-parser-xml reads a push's
 * envelope and xml2js the decrypted payload, both with XML_PARSE_OPTIONS; the safety rules are explicit checks
 * around them, because neither library enforces them (each is shown by a case in test/unit/xml-reading.test.ts):
 *
 * before parsing (on the text, outside CDATA sections, comments and processing instructions):
 * - a DOCTYPE or ENTITY declaration is refused (no DTD is ever read: no entity expansion, no XXE);
 *   the same characters inside CDATA are text and pass;
 * - `]]>` in text is refused (XML 1.0 §2.4; sax lets it through);
 * - a duplicate attribute is refused (sax silently keeps the first);
 * - an element named like a member of Object.prototype (`__proto__`, `constructor`…) is refused (xml2js would
 *   merge it with the inherited member);
 * - one root element and nothing after it but comments and whitespace (xml2js answers at the first root's end);
 *
 * after parsing (on xml2js's result):
 * - the root is `<xml>`;
 * - no text directly in the root, only elements;
 * - no element repeated (a crafted document must not sign one value and deliver another);
 * - the fields land in a null-prototype map; an element with child elements is NESTED, which textOf refuses;
 * - line ends are normalised to `\n` (XML 1.0 §2.11; sax keeps CR LF).
 *
 * The 64 KiB limit (→ 413) is the envelope reader's; the payload is bounded by the envelope.
 */
import bodyParser from 'body-parser';
import bodyParserXml from 'body-parser-xml';
import type { RequestHandler } from 'express';
import { Parser, type ParserOptions } from 'xml2js';

export class XmlFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlFormatError';
  }
}

/** Text never appears under this key: `#` cannot start an XML name, so no element collides with it. */
const TEXT_KEY = '#text';

/** How both libraries parse WeChat's XML: strict, every element as an array (repeats show), attributes ignored, text untouched. */
export const XML_PARSE_OPTIONS: Readonly<ParserOptions> = Object.freeze({
  strict: true,
  explicitRoot: true,
  explicitArray: true,
  ignoreAttrs: true,
  trim: false,
  normalize: false,
  normalizeTags: false,
  charkey: TEXT_KEY,
  emptyTag: '',
  async: false,
});

/** What an element with child elements reads as (newer InfoTypes carry some): skipped, never a value. */
export const NESTED: unique symbol = Symbol('element with child elements');
export type XmlFieldValue = string | typeof NESTED;
/** A null-prototype map from the root's child element names to their text. */
export type XmlFields = Record<string, XmlFieldValue>;

const NON_MARKUP = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
const DECLARATION = /<!(DOCTYPE|ENTITY)/i;
/** A start or end tag; whether it is well-formed is the parser's to judge. */
const TAG = /<(\/?)([^\s/>!?]+)([^>]*?)(\/?)>/g;
const ATTRIBUTE_NAME = /([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')/g;

/** The rules that hold on the text itself (see the header). Throws XmlFormatError. */
export function checkXmlText(text: string): void {
  const markup = text.replace(NON_MARKUP, ' ');
  if (DECLARATION.test(markup)) throw new XmlFormatError('XML with a DOCTYPE or ENTITY declaration is refused');
  if (markup.includes(']]>')) throw new XmlFormatError('"]]>" is not allowed in text');
  let depth = 0;
  let rootEnd = -1;
  for (const tag of markup.matchAll(TAG)) {
    if (rootEnd >= 0) throw new XmlFormatError('content after the root element');
    const [whole, closing, name = '', attributes = '', selfClosing] = tag;
    if (closing) {
      depth--;
    } else {
      if (name in Object.prototype) throw new XmlFormatError(`an element named <${name}> is refused`);
      const names = [...attributes.matchAll(ATTRIBUTE_NAME)].map((a) => a[1]);
      if (new Set(names).size !== names.length) throw new XmlFormatError(`<${name}> has a duplicate attribute`);
      if (!selfClosing) depth++;
    }
    if (depth === 0) rootEnd = tag.index + whole.length;
  }
  if (rootEnd >= 0 && markup.slice(rootEnd).trim() !== '') throw new XmlFormatError('content after the root element');
}

/** The rules that hold on xml2js's result (see the header); returns the root's fields. Throws XmlFormatError. */
export function readXmlFields(parsed: unknown): XmlFields {
  if (!parsed || typeof parsed !== 'object') throw new XmlFormatError('no XML document');
  const roots = Object.keys(parsed);
  if (roots.length !== 1 || roots[0] !== 'xml')
    throw new XmlFormatError(`the root element must be <xml>, not <${roots.join('>, <')}>`);
  const root: unknown = (parsed as Record<string, unknown>).xml;
  if (!root || typeof root !== 'object') throw new XmlFormatError('<xml> has no child elements');
  const fields = Object.create(null) as XmlFields;
  for (const [name, values] of Object.entries(root as Record<string, unknown>)) {
    if (name === TEXT_KEY) throw new XmlFormatError('text directly inside <xml> is refused');
    if (!Array.isArray(values) || values.length !== 1) throw new XmlFormatError(`<${name}> appears more than once`);
    const value: unknown = values[0];
    fields[name] = typeof value === 'string' ? value.replace(/\r\n?/g, '\n') : NESTED;
  }
  if (Object.keys(fields).length === 0) throw new XmlFormatError('<xml> has no child elements');
  return fields;
}

/** Parses a whole document (the decrypted payload) with xml2js and every rule. Throws XmlFormatError. */
export function parseXmlFields(text: string): XmlFields {
  checkXmlText(text);
  let parsed: unknown;
  let failure: unknown;
  try {
    new Parser(XML_PARSE_OPTIONS).parseString(text, (err: unknown, result: unknown) => {
      failure ??= err;
      parsed ??= result;
    });
  } catch (err) {
    // xml2js can throw after having called back (a known quirk); the first outcome counts.
    failure ??= err;
  }
  if (failure) throw new XmlFormatError(`malformed XML: ${firstLine(failure)}`);
  return readXmlFields(parsed);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? 'unreadable';
}

bodyParserXml(bodyParser);

/**
 * The envelope reader of `POST /auth`: body-parser-xml with XML_PARSE_OPTIONS, the text rules checked before it
 * parses, `limit` bytes at most (→ 413). Any Content-Type is read: the signature, not the header, proves a push.
 * Leaves xml2js's result in `req.body` for readXmlFields; a malformed document is a 400.
 */
export function xmlEnvelopeReader(limitBytes: number): RequestHandler {
  return bodyParser.xml({
    limit: limitBytes,
    type: () => true,
    xmlParseOptions: { ...XML_PARSE_OPTIONS },
    verify: (_req, _res, body, encoding) => {
      try {
        checkXmlText(body.toString(encoding ?? 'utf8'));
      } catch (err) {
        throw Object.assign(err as Error, { status: 400 });
      }
    },
  });
}

/**
 * The text of one element. An element with child elements (NESTED) is malformed as a value: WeChat never sends
 * one where a value is expected.
 */
export function textOf(fields: XmlFields, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value !== 'string') throw new XmlFormatError(`<${name}> must hold text only`);
  return value;
}

export function requiredText(fields: XmlFields, name: string): string {
  const value = textOf(fields, name);
  if (value === undefined || value === '') throw new XmlFormatError(`<${name}> is missing or empty`);
  return value;
}
