/**
 * Fixed-seed fuzz of decodePfKey: 120k random and mutated inputs (random octets, random octets
 * behind a plausible header, and mutations of valid encodings of every message type — bit flips,
 * byte sets, truncation, extension, extension lengths set to 0/±1/huge, duplicated and retyped
 * extensions, sadb_msg_len repaired so the mutation reaches the extension parser). Every call
 * must return (never throw); every failure must carry a known code, a message and an offset
 * inside the input; every success must re-encode and decode to itself.
 */

import { fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../engine/bytes.js';
import { decodePfKey } from '../../../engine/pfkey/decode.js';
import { encodePfKey } from '../../../engine/pfkey/encode.js';
import { PFKEY_ERROR_CODES, type PfKeyErrorCode } from '../../../engine/pfkey/types.js';
import { arbMessage } from './arbitraries.js';
import { prng } from '../../support/random.js';

const SEED = 0x2367;
const INPUTS = 120_000;

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

const POOL = fc.sample(arbMessage, { seed: SEED, numRuns: 600 }).map(encodePfKey);

function fixLength(b: Uint8Array): Uint8Array {
  if (b.length >= 8) new DataView(b.buffer, b.byteOffset).setUint16(4, Math.floor(b.length / 8), true);
  return b;
}

/** Start offsets of the extensions of a valid encoding. */
function extOffsets(b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset);
  const out: number[] = [];
  for (let at = 16; at + 8 <= b.length; ) {
    out.push(at);
    const len = v.getUint16(at, true) * 8;
    if (len === 0) break;
    at += len;
  }
  return out;
}

function mutate(src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const v = () => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const exts = extOffsets(b);
  switch (int(12)) {
    case 0: // flip 1..4 bits
      for (let i = int(4) + 1; i > 0; i--) b[int(b.length)]! ^= 1 << int(8);
      break;
    case 1: // set a byte to an extreme
      b[int(b.length)] = pick([0, 1, 0x7f, 0x80, 0xff, int(256)]);
      break;
    case 2: // truncate
      b = b.slice(0, int(b.length));
      break;
    case 3: // truncate to a multiple of 8 and repair sadb_msg_len
      b = fixLength(b.slice(0, 8 * int(b.length / 8 + 1)));
      break;
    case 4: // append random words and repair the length
      b = fixLength(Uint8Array.from([...b, ...randomBytes(8 * (int(4) + 1))]));
      break;
    case 5: // an extension length to 0, ±1, huge
      if (exts.length) {
        const at = pick(exts);
        const cur = v().getUint16(at, true);
        v().setUint16(at, pick([0, cur + 1, Math.max(cur - 1, 0), 0xffff, int(8)]), true);
      }
      break;
    case 6: // duplicate an extension
      if (exts.length) {
        const at = pick(exts);
        const len = v().getUint16(at, true) * 8;
        b = fixLength(Uint8Array.from([...b, ...b.subarray(at, at + len)]));
      }
      break;
    case 7: // retype an extension (0, unknown, another known)
      if (exts.length) v().setUint16(pick(exts) + 2, pick([0, 27, 200, 0xffff, int(27)]), true);
      break;
    case 8: // corrupt a field inside an extension body (sockaddr family, prefixlen, key bits, request length)
      if (exts.length) {
        const at = pick(exts);
        const len = v().getUint16(at, true) * 8;
        const off = at + 4 + int(Math.max(len - 4, 1));
        if (off + 1 < b.length) v().setUint16(off, pick([0, 2, 10, 0xffff, int(0x10000), 16, 48, 129, 33]), true);
      }
      break;
    case 9: // message header fields: version, type, len
      b[pick([0, 1, 4, 5])] = pick([0, 1, 2, 24, 25, 0xff, int(256)]);
      break;
    case 10: // splice two valid messages
      b = fixLength(Uint8Array.from([...b, ...pick(POOL).subarray(16)]));
      break;
    default: // swap the message type for another (extensions may now be disallowed)
      b[1] = int(26);
  }
  return b;
}

function input(i: number): Uint8Array {
  switch (i % 4) {
    case 0:
      return randomBytes(int(160));
    case 1: {
      const b = randomBytes(8 * (int(20) + 2));
      b[0] = 2;
      b[1] = int(26);
      return fixLength(b);
    }
    default: {
      let b: Uint8Array = pick(POOL);
      for (let k = int(3) + 1; k > 0; k--) b = mutate(b);
      return b;
    }
  }
}

describe('decodePfKey fuzz (fixed seed)', () => {
  it(`${INPUTS} random and mutated inputs: no throw, every failure coded, every success re-encodes`, () => {
    const seen = new Map<PfKeyErrorCode | 'ok', number>();
    const CODES = new Set<string>(PFKEY_ERROR_CODES);
    let reencoded = 0;
    for (let i = 0; i < INPUTS; i++) {
      const bytes = input(i);
      let r;
      try {
        r = decodePfKey(bytes);
      } catch (e) {
        throw new Error(`decodePfKey threw on input #${i} ${Buffer.from(bytes).toString('hex')}: ${String(e)}`);
      }
      if (!r.ok) {
        const { code, message, offset } = r.error;
        // Plain checks in the loop (expect() per input would dominate the run time).
        if (!CODES.has(code) || message.length === 0 || !(offset >= 0 && offset < Math.max(bytes.length, 1))) {
          throw new Error(`bad error on input #${i} ${Buffer.from(bytes).toString('hex')}: ${JSON.stringify(r.error)}`);
        }
        seen.set(code, (seen.get(code) ?? 0) + 1);
      } else {
        const enc = encodePfKey(r.msg);
        const again = decodePfKey(enc);
        if (!again.ok) throw new Error(`re-encoding of input #${i} does not decode: ${again.error.message}`);
        if (toHex(encodePfKey(again.msg)) !== toHex(enc)) throw new Error(`input #${i} does not re-encode stably`);
        if (reencoded++ % 16 === 0) expect(again.msg).toEqual(r.msg);
        seen.set('ok', (seen.get('ok') ?? 0) + 1);
      }
    }
    // Every error code is reachable and reached, and plenty of inputs still decode.
    for (const code of PFKEY_ERROR_CODES) expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
    expect(seen.get('ok') ?? 0).toBeGreaterThan(INPUTS / 20);
    console.log(Object.fromEntries([...seen].sort((a, b) => b[1] - a[1])));
  });
});
