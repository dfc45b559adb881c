/**
 * What every part of the policy parser shares: the error list with positions, reading an
 * element's children against what is allowed there, and reading a leaf's value. Errors are
 * collected, not thrown, so one pass reports every problem of a file.
 */
import { POLICY_NAMESPACE, type PolicyError } from './model.js';
import type { LineMap, XmlElement } from './xmlTree.js';

/** Where a rule was broken, for cross-entry checks ("... of sad-entry 'b' (line 40)"). */
export interface Located<T> {
  readonly doc: T;
  readonly el: XmlElement;
}

export class ParseContext {
  readonly errors: PolicyError[] = [];
  constructor(
    readonly file: string,
    readonly lines: LineMap,
  ) {}

  /** Records an error at a source offset. */
  errorAt(offset: number, rule: string): void {
    const { line, column } = this.lines.position(offset);
    this.errors.push({ file: this.file, line, column, rule });
  }
  /** An error about an element as a whole: at its `<`. */
  errorOn(el: XmlElement, rule: string): void {
    this.errorAt(el.offset, rule);
  }
  /** An error about an element's value: at its first non-blank character. */
  errorInValue(el: XmlElement, rule: string): void {
    this.errorAt(this.valueOffset(el), rule);
  }
  valueOffset(el: XmlElement): number {
    const end = el.children[0]?.offset ?? this.lines.text.indexOf('<', el.contentOffset);
    return this.lines.skipBlanks(el.contentOffset, end < 0 ? undefined : end);
  }
  lineOf(el: XmlElement): number {
    return this.lines.position(el.offset).line;
  }
}

type Arity = 'one' | 'many';

/** The children of one element, checked against what may appear there. */
export class Children {
  readonly #byName = new Map<string, XmlElement[]>();
  constructor(
    private readonly ctx: ParseContext,
    readonly parent: XmlElement,
    allowed: Readonly<Record<string, Arity>>,
  ) {
    checkNoAttributes(ctx, parent);
    const stray = parent.text.trim();
    if (stray !== '') {
      ctx.errorInValue(parent, `unexpected text '${clip(stray)}' in <${parent.name}>; it holds elements only`);
    }
    for (const child of parent.children) {
      if (child.uri !== POLICY_NAMESPACE) {
        ctx.errorOn(child, `<${child.name}> is in namespace '${child.uri}', not ${POLICY_NAMESPACE}`);
        continue;
      }
      const arity = Object.hasOwn(allowed, child.name) ? allowed[child.name] : undefined;
      if (arity === undefined) {
        ctx.errorOn(
          child,
          `unexpected element <${child.name}> in <${parent.name}>; allowed here: ${Object.keys(allowed).join(', ')}`,
        );
        continue;
      }
      const list = this.#byName.get(child.name) ?? [];
      if (arity === 'one' && list.length > 0) {
        ctx.errorOn(child, `<${child.name}> appears twice in <${parent.name}> (first at line ${ctx.lineOf(list[0]!)})`);
        continue;
      }
      list.push(child);
      this.#byName.set(child.name, list);
    }
  }
  /** The element, or undefined when absent. */
  one(name: string): XmlElement | undefined {
    return this.#byName.get(name)?.[0];
  }
  /** The element; reports it missing when absent. */
  need(name: string, why = ''): XmlElement | undefined {
    const el = this.one(name);
    if (!el) this.ctx.errorOn(this.parent, `<${this.parent.name}> needs a <${name}>${why}`);
    return el;
  }
  many(name: string): XmlElement[] {
    return this.#byName.get(name) ?? [];
  }
  has(name: string): boolean {
    return this.#byName.has(name);
  }
}

function checkNoAttributes(ctx: ParseContext, el: XmlElement): void {
  for (const a of el.attributes) {
    ctx.errorOn(el, `attribute '${a.name}' is not allowed on <${el.name}>; this format uses elements only`);
  }
}

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 37)}...` : one;
}

/** A leaf's value, trimmed; reports child elements and emptiness. */
export function leafText(ctx: ParseContext, el: XmlElement): string | undefined {
  checkNoAttributes(ctx, el);
  if (el.children.length > 0) {
    ctx.errorOn(el.children[0]!, `<${el.name}> holds a value, not elements`);
    return undefined;
  }
  const text = el.text.trim();
  if (text === '') {
    ctx.errorOn(el, `<${el.name}> is empty; it needs a value`);
    return undefined;
  }
  return text;
}

/** An empty marker element such as `<opaque/>`. */
export function emptyLeaf(ctx: ParseContext, el: XmlElement): void {
  checkNoAttributes(ctx, el);
  if (el.children.length > 0 || el.text.trim() !== '') ctx.errorOn(el, `<${el.name}/> takes no content`);
}

/** A whole number in `min..max`; `hex` also takes `0x...`. `what` names it in messages. */
export function readUint(
  ctx: ParseContext,
  el: XmlElement | undefined,
  min: number,
  max: number,
  what = el?.name ?? '',
  hex = false,
): number | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  const isHex = hex && /^0[xX][0-9a-fA-F]+$/.test(text);
  if (!isHex && !/^[0-9]+$/.test(text)) {
    ctx.errorInValue(el, `${what} '${clip(text)}' is not a whole number${hex ? ' (decimal, or hex as 0x...)' : ''}`);
    return undefined;
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    ctx.errorInValue(el, `${what} ${text} is out of range: it must be ${min} to ${max}`);
    return undefined;
  }
  return value;
}

/** `true` or `false` (YANG boolean). */
export function readBool(ctx: ParseContext, el: XmlElement | undefined): boolean | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  ctx.errorInValue(el, `<${el.name}> '${clip(text)}' is not true or false`);
  return undefined;
}

/** One of a fixed set of keywords. */
export function readEnum<T extends string>(ctx: ParseContext, el: XmlElement | undefined, values: readonly T[]): T | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if ((values as readonly string[]).includes(text)) return text as T;
  ctx.errorInValue(el, `<${el.name}> '${clip(text)}' is not one of ${values.join(', ')}`);
  return undefined;
}

/** Entry names: they become policy and SA ids, so a plain identifier. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function readName(ctx: ParseContext, el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  const text = leafText(ctx, el);
  if (text === undefined) return undefined;
  if (NAME_PATTERN.test(text)) return text;
  ctx.errorInValue(
    el,
    `name '${clip(text)}' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
  );
  return undefined;
}

/** `0x`-prefixed lower-case hex of an SPI, as messages show it. */
export function hexSpi(spi: number): string {
  return `0x${spi.toString(16)}`;
}

export { clip };
