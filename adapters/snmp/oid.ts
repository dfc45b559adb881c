/**
 * Object identifiers as number arrays (RFC 2578 §3.5): text, order, and the instance suffixes
 * of table rows (RFC 2578 §7.7: an OCTET STRING index is its length, then one sub-identifier per
 * octet; an integer index is itself).
 */

export type Oid = readonly number[];

/** @example parseOid('1.3.6.1.2.1.153') // [1, 3, 6, 1, 2, 1, 153] */
export function parseOid(text: string): number[] | undefined {
  const t = text.startsWith('.') ? text.slice(1) : text;
  if (!/^\d+(\.\d+)*$/.test(t)) return undefined;
  const parts = t.split('.').map(Number);
  return parts.every((n) => Number.isSafeInteger(n) && n <= 0xffffffff) ? parts : undefined;
}

/** @example oidText([1, 3, 6]) // '1.3.6' */
export const oidText = (oid: Oid): string => oid.join('.');

/** Lexicographic order of RFC 3416 GetNext: -1, 0 or 1. */
export function compareOid(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

/** Whether `oid` lies under `prefix` (or equals it). */
export function startsWith(oid: Oid, prefix: Oid): boolean {
  return oid.length >= prefix.length && prefix.every((n, i) => oid[i] === n);
}

/** One index component: a string (RFC 2578 §7.7 rule 1, not IMPLIED) or an unsigned integer. */
export type IndexPart = { kind: 'string'; min: number; max: number } | { kind: 'integer'; min: number; max: number };
export type IndexValue = string | number;

/** @example encodeIndex([{ kind: 'string', min: 1, max: 32 }], ['ike-out']) // [7, 105, 107, ...] */
export function encodeIndex(parts: readonly IndexPart[], values: readonly IndexValue[]): number[] {
  const out: number[] = [];
  parts.forEach((p, i) => {
    const v = values[i]!;
    if (p.kind === 'integer') out.push(v as number);
    else {
      const bytes = Buffer.from(v as string, 'utf8');
      out.push(bytes.length, ...bytes);
    }
  });
  return out;
}

/** The index values of a row instance suffix, or undefined when it does not parse exactly. */
export function decodeIndex(parts: readonly IndexPart[], suffix: Oid): IndexValue[] | undefined {
  const values: IndexValue[] = [];
  let i = 0;
  for (const p of parts) {
    if (i >= suffix.length) return undefined;
    if (p.kind === 'integer') {
      const v = suffix[i++]!;
      if (v < p.min || v > p.max) return undefined;
      values.push(v);
    } else {
      const len = suffix[i++]!;
      if (len < p.min || len > p.max || i + len > suffix.length) return undefined;
      const bytes = suffix.slice(i, i + len);
      if (bytes.some((b) => b > 255)) return undefined;
      const text = Buffer.from(bytes).toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(Buffer.from(bytes))) return undefined; // SnmpAdminString is UTF-8
      values.push(text);
      i += len;
    }
  }
  return i === suffix.length ? values : undefined;
}
