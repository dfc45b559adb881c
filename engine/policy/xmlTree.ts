/**
 * Reads XML text into a small element tree with source offsets, using saxes (a strict,
 * streaming, namespace-aware parser). Only what a policy file needs: elements, their text,
 * their attributes. Comments and the XML declaration are skipped; a DOCTYPE is refused (no
 * entity definitions, so no entity expansion of any kind).
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';

export interface XmlElement {
  /** Local name (no prefix). */
  readonly name: string;
  readonly uri: string;
  readonly attributes: ReadonlyArray<{ name: string; uri: string; offset: number }>;
  readonly children: XmlElement[];
  /** Character data directly inside, concatenated (entities decoded, CDATA included). */
  text: string;
  /** Offset of the `<` that opens the element. */
  readonly offset: number;
  /** Offset just past the `>` of the start tag: where the content begins. */
  readonly contentOffset: number;
}

/** Maps offsets to 1-based line and column over one text. */
export class LineMap {
  readonly #starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // XML §2.11: CR LF and a lone CR are both one line end.
      if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) this.#starts.push(i + 1);
    }
  }
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.#starts[lo]! + 1 };
  }
  /** The offset of the first non-blank character at or after `offset` (or `offset` itself). */
  skipBlanks(offset: number, end = this.text.length): number {
    let i = offset;
    while (i < end && /\s/.test(this.text[i]!)) i++;
    return i < end ? i : offset;
  }
}

export type XmlReadResult =
  | { ok: true; root: XmlElement }
  | { ok: false; offset: number; rule: string; open?: { name: string; offset: number } };

/**
 * Parses `text`; on the first well-formedness error returns its offset and saxes' message.
 *
 * @example
 * const r = readXmlTree('<a><b>1</b></a>'); // r.ok && r.root.children[0].text === '1'
 */
export function readXmlTree(text: string): XmlReadResult {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: { offset: number; rule: string; open?: { name: string; offset: number } } | undefined;
  let tagStart = 0;
  let lastClosed: XmlElement | undefined;
  const fail = (offset: number, rule: string): void => {
    failure ??= { offset: Math.max(0, offset), rule };
  };
  parser.on('error', (err) => {
    // saxes prefixes "line:column: "; our caller adds its own position.
    const rule = err.message.replace(/^[^:]*:\d+:\d+: /, '').replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    const offset = parser.position - 1;
    // saxes reports a mismatched close tag after closing the element it mismatched.
    const open = rule.startsWith('unexpected close tag') ? lastClosed : rule.startsWith('unclosed tag') ? stack[stack.length - 1] : undefined;
    if (!failure && open) {
      const closing = /^<\/([^\s>]+)/.exec(text.slice(text.lastIndexOf('</', offset)))?.[1];
      const what = rule.startsWith('unexpected') && closing ? `unexpected close tag </${closing}>` : rule;
      failure = { offset: Math.max(0, offset), rule: what, open: { name: open.name, offset: open.offset } };
    }
    fail(offset, rule);
  });
  parser.on('doctype', () => fail(parser.position - 1, 'a DOCTYPE is not allowed in a policy file'));
  parser.on('opentagstart', (tag) => {
    tagStart = parser.position - tag.name.length - 2;
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    const attributes = Object.values(tag.attributes)
      .filter((a) => a.prefix !== 'xmlns' && a.name !== 'xmlns')
      .map((a) => ({ name: a.name, uri: a.uri, offset: tagStart }));
    const el: XmlElement = {
      name: tag.local,
      uri: tag.uri,
      attributes,
      children: [],
      text: '',
      offset: tagStart,
      contentOffset: parser.position,
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root ??= el;
    if (!tag.isSelfClosing) stack.push(el);
  });
  parser.on('closetag', (tag) => {
    if (!tag.isSelfClosing) lastClosed = stack.pop();
  });
  const addText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  try {
    parser.write(text).close();
  } catch (err) {
    fail(parser.position - 1, err instanceof Error ? err.message : String(err));
  }
  if (failure) return { ok: false, ...failure };
  if (!root) return { ok: false, offset: 0, rule: 'the file holds no XML element' };
  return { ok: true, root };
}
