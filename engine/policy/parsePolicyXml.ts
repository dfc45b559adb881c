import { crossCheck, type ParsedEntries } from './crossCheck.js';
import { POLICY_NAMESPACE, type PolicyDocument, type PolicyParseResult } from './model.js';
import { Children, ParseContext, readEnum } from './parseContext.js';
import { readConnEntry, readPadEntry } from './parseIke.js';
import { readSadEntry } from './parseSad.js';
import { readSpdEntry } from './parseSpd.js';
import { LineMap, readXmlTree } from './xmlTree.js';

/**
 * Parses and validates a policy file (schema/ipsec-es-policy.xsd). Returns the whole document,
 * or every error found, each with the file, 1-based line and column, and the rule broken in
 * words; never a partial document, never a throw on content. Pure: the caller reads the file.
 *
 * @example
 * const r = parsePolicyXml(await readFile(path, 'utf8'), path);
 * if (!r.ok) for (const e of r.errors) console.error(`${e.file}:${e.line}:${e.column}: ${e.rule}`);
 */
export function parsePolicyXml(text: string, fileName: string): PolicyParseResult {
  // A byte order mark is not part of the first line as an editor shows it.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const ctx = new ParseContext(fileName, new LineMap(source));
  const tree = readXmlTree(source);
  if (!tree.ok) {
    if (tree.open) {
      const { line, column } = ctx.lines.position(tree.open.offset);
      const at = `<${tree.open.name}> (line ${line}, column ${column})`;
      if (tree.rule.startsWith('unclosed tag')) ctx.errorAt(source.length, `malformed XML: the file ends while ${at} is still open`);
      else ctx.errorAt(tree.offset, `malformed XML: ${tree.rule}; ${at} is not closed`);
    } else {
      ctx.errorAt(tree.offset, `malformed XML: ${tree.rule}`);
    }
    return { ok: false, errors: ctx.errors };
  }
  const root = tree.root;
  if (root.name !== 'ipsec-policy') {
    ctx.errorOn(root, `the root element must be <ipsec-policy>, not <${root.name}>`);
    return { ok: false, errors: ctx.errors };
  }
  if (root.uri !== POLICY_NAMESPACE) {
    ctx.errorOn(root, `<ipsec-policy> must be in namespace ${POLICY_NAMESPACE}: write <ipsec-policy xmlns="${POLICY_NAMESPACE}">`);
    return { ok: false, errors: ctx.errors };
  }
  const top = new Children(ctx, root, { 'default-action': 'one', 'ipsec-ikeless': 'one', 'ipsec-ike': 'one' });
  const defaultAction = readEnum(ctx, top.one('default-action'), ['bypass', 'discard'] as const);
  const parsed: ParsedEntries = { spd: [], sad: [], pad: [], connections: [] };
  const ikeless = top.one('ipsec-ikeless');
  if (ikeless) {
    const k = new Children(ctx, ikeless, { spd: 'one', sad: 'one' });
    const spd = k.one('spd');
    for (const el of spd ? new Children(ctx, spd, { 'spd-entry': 'many' }).many('spd-entry') : []) {
      const e = readSpdEntry(ctx, el, undefined);
      if (e) parsed.spd.push(e);
    }
    const sad = k.one('sad');
    for (const el of sad ? new Children(ctx, sad, { 'sad-entry': 'many' }).many('sad-entry') : []) {
      const e = readSadEntry(ctx, el);
      if (e) parsed.sad.push(e);
    }
  }
  const ike = top.one('ipsec-ike');
  if (ike) {
    const k = new Children(ctx, ike, { pad: 'one', 'conn-entry': 'many' });
    const pad = k.one('pad');
    for (const el of pad ? new Children(ctx, pad, { 'pad-entry': 'many' }).many('pad-entry') : []) {
      const e = readPadEntry(ctx, el);
      if (e) parsed.pad.push(e);
    }
    for (const el of k.many('conn-entry')) {
      const e = readConnEntry(ctx, el);
      if (e) parsed.connections.push(e);
    }
  }
  crossCheck(ctx, parsed);
  if (ctx.errors.length > 0) {
    const errors = [...ctx.errors].sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, errors };
  }
  const doc: PolicyDocument = {
    spd: parsed.spd.map((e) => e.doc as PolicyDocument['spd'][number]),
    sad: parsed.sad.map((e) => e.doc),
    pad: parsed.pad.map((e) => e.doc),
    connections: parsed.connections.map((e) => e.doc),
  };
  if (defaultAction) doc.defaultAction = defaultAction;
  return { ok: true, doc };
}

/**
 * One line per error, `file:line:column: rule`, as compilers print them.
 *
 * @example
 * formatPolicyErrors(r.errors) // 'site.xml:12:21: prefix length 33 exceeds 32 for an IPv4 address'
 */
export function formatPolicyErrors(errors: readonly { file: string; line: number; column: number; rule: string }[]): string {
  return errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.rule}`).join('\n');
}
