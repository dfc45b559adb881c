/**
 * Text forms of IP addresses and prefixes as a policy file writes them: dotted quads for IPv4
 * (RFC 791; no leading zeros, so `010.0.0.1` cannot mean octal), RFC 4291 §2.2 for IPv6, and
 * RFC 5952 §4 as the one canonical output form, so a saved file reads the same however the
 * address was typed. Each parser returns a value or a sentence saying what is wrong.
 */

/** A parse result: the value, or the rule it broke, in words. */
export type TextResult<T> = { ok: true; value: T } | { ok: false; rule: string };

const fail = (rule: string): { ok: false; rule: string } => ({ ok: false, rule });

function parseIpv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6Bytes(text: string): Uint8Array | undefined {
  if (text.length < 2 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        // RFC 4291 §2.2 form 3: the last 32 bits as a dotted quad.
        const v4 = parseIpv4Bytes(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const groups =
    halves.length === 2
      ? head.length + tail.length > 7
        ? undefined
        : [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
      : head.length === 8
        ? head
        : undefined;
  if (groups === undefined) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/**
 * Parses an IPv4 or IPv6 address.
 *
 * @example
 * parseIpAddress('2001:db8::1') // { ok: true, value: Uint8Array(16) [...] }
 */
export function parseIpAddress(text: string): TextResult<Uint8Array> {
  const bytes = text.includes(':') ? parseIpv6Bytes(text) : parseIpv4Bytes(text);
  if (bytes === undefined) {
    return fail(
      text.includes(':')
        ? `'${text}' is not a valid IPv6 address`
        : `'${text}' is not a valid IPv4 address (four decimal octets 0-255, no leading zeros)`,
    );
  }
  return { ok: true, value: bytes };
}

/**
 * The canonical text of an address: dotted quad, or RFC 5952 §4 (lower case, no leading zeros,
 * the longest run of two or more zero groups shortened to `::`, the first such run on a tie;
 * §5: IPv4-mapped addresses as `::ffff:a.b.c.d`).
 *
 * @example
 * formatIpAddress(parseIpv6('2001:DB8:0:0:0:0:0:1')) // '2001:db8::1'
 */
export function formatIpAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  // RFC 5952 §5: an IPv4-mapped address keeps its dotted quad.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/** An address with a prefix length; host bits are zero. */
export interface IpPrefix {
  address: Uint8Array;
  length: number;
}

/**
 * Parses `address/length` (or a bare address, meaning a /32 or /128 host prefix). A prefix whose
 * host bits are set is refused, naming the prefix that was probably meant.
 *
 * @example
 * parsePrefix('10.1.0.0/16') // { ok: true, value: { address: Uint8Array [10, 1, 0, 0], length: 16 } }
 */
export function parsePrefix(text: string): TextResult<IpPrefix> {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIpAddress(addressText);
  if (!address.ok) return address;
  const max = address.value.length * 8;
  const family = max === 32 ? 'IPv4' : 'IPv6';
  if (slash < 0) return { ok: true, value: { address: address.value, length: max } };
  const lengthText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) {
    return fail(`prefix length '${lengthText}' is not a number from 0 to ${max}`);
  }
  const length = Number(lengthText);
  if (length > max) return fail(`prefix length ${length} exceeds ${max} for an ${family} address`);
  const masked = maskTo(address.value, length);
  if (!masked.every((b, i) => b === address.value[i])) {
    return fail(
      `prefix ${text} has host bits set; the network is ${formatIpAddress(masked)}/${length}`,
    );
  }
  return { ok: true, value: { address: address.value, length } };
}

/** Clears every bit past `length`. */
export function maskTo(address: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(address);
  for (let bit = length; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

/**
 * `address/length`, canonical.
 *
 * @example
 * formatPrefix({ address: new Uint8Array([10, 0, 0, 0]), length: 8 }) // '10.0.0.0/8'
 */
export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIpAddress(prefix.address)}/${prefix.length}`;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` (same family). */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
