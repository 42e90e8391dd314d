import { Parser, type ParserOptions } from 'xml2js';

/**
 * WeChat's XML is flat: `<xml><Name>value</Name>…</xml>`, values bare or in
 * CDATA, with `\n` between elements. Only element text matters; a DOCTYPE or
 * an entity declaration never appears in a real push, so either one is refused
 * outright rather than trusted to the parser (no entity expansion, no XXE).
 */
export const XML_PARSE_OPTIONS: ParserOptions = {
  explicitArray: false,
  explicitRoot: false,
  trim: false,
  normalize: false,
  normalizeTags: false,
  ignoreAttrs: true,
  strict: true,
  async: false,
};

export class XmlFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlFormatError';
  }
}

const FORBIDDEN_DECLARATION = /<!(DOCTYPE|ENTITY)/i;

export function assertNoDeclarations(text: string): void {
  if (FORBIDDEN_DECLARATION.test(text)) throw new XmlFormatError('XML with a DOCTYPE or ENTITY declaration is refused');
}

/** Parses `<xml>…</xml>` into its (null-prototype) element map. */
export function parseFlatXml(text: string): Record<string, unknown> {
  assertNoDeclarations(text);
  let result: unknown;
  let failure: Error | undefined;
  new Parser(XML_PARSE_OPTIONS).parseString(text, (err: Error | null, parsed: unknown) => {
    failure = err ?? undefined;
    result = parsed;
  });
  if (failure) throw new XmlFormatError(`malformed XML: ${failure.message.split('\n')[0]}`);
  if (!result || typeof result !== 'object') throw new XmlFormatError('XML has no <xml> element with children');
  return result as Record<string, unknown>;
}

/**
 * The text of one element. An element given twice (an array) or with child
 * elements (an object) is malformed: WeChat never sends either, and silently
 * picking one would let a crafted envelope sign one value and deliver another.
 */
export function textOf(fields: Record<string, unknown>, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value !== 'string') throw new XmlFormatError(`<${name}> must appear once, with text only`);
  return value;
}

export function requiredText(fields: Record<string, unknown>, name: string): string {
  const value = textOf(fields, name);
  if (value === undefined || value === '') throw new XmlFormatError(`<${name}> is missing or empty`);
  return value;
}
