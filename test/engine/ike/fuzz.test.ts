/**
 * Fixed-seed fuzz of the IKEv2 decoders: 100k random and mutated inputs through
 * decodeIkeMessage (random octets, random octets behind a plausible header, and mutations of
 * valid messages — bit flips, byte sets, truncation, extension, payload lengths set to
 * 0/±1/huge, the header Length repaired so the mutation reaches the payload chain), 20k through
 * unprotectIkeMessage, 20k through decodePayloadChain as SK plaintext. Every call returns
 * (never throws); every failure has a known reason, a detail and an offset inside the input;
 * every success re-encodes to bytes that decode to the same value.
 */

import { fc } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, writeU32 } from '../../../engine/bytes.js';
import { ENCR, INTEG } from '../../../engine/crypto/transformIds.js';
import { createSkCipher, decodeIkeMessage, decodePayloadChain, encodeIkeMessage, protectIkeMessage, unprotectIkeMessage } from '../../../engine/ike/index.js';
import type { IkeDecodeFailure, IkeDecodeReason } from '../../../engine/ike/types.js';
import { prng } from '../../support/random.js';
import { loadVectors } from '../../vectors/load.js';
import { arbInnerPayloads, arbMessage } from './arbitraries.js';

const SEED = 0x7296;
const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const REASONS: readonly IkeDecodeReason[] = ['truncated', 'malformed', 'invalidMajorVersion', 'unsupportedCriticalPayload', 'authFailed', 'badPadding'];

const python = loadVectors('ike/ike-python.json');
const POOL: Uint8Array[] = [
  ...fc.sample(arbMessage, { seed: SEED, numRuns: 400 }).map(encodeIkeMessage),
  fromHex(loadVectors('chacha20poly1305-esp-rfc7634.json').ikev2_example.ike_message),
  fromHex(python.pskAuth.realMessage),
  ...python.sk.map((v: { message: string }) => fromHex(v.message)),
];

/** Start offsets of the payload headers of a valid message. */
function payloadOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 28, next = b[16]!; next !== 0 && at + 4 <= b.length; ) {
    out.push(at);
    if (next === 46 || next === 53) break;
    next = b[at]!;
    const len = (b[at + 2]! << 8) | b[at + 3]!;
    if (len < 4) break;
    at += len;
  }
  return out;
}

function mutate(src: Uint8Array): Uint8Array {
  let b: Uint8Array = src.slice();
  const payloads = payloadOffsets(b);
  switch (int(9)) {
    case 0:
      for (let i = int(4) + 1; i > 0; i--) b[int(b.length)]! ^= 1 << int(8);
      break;
    case 1:
      b[int(b.length)] = pick([0, 1, 2, 3, 0x7f, 0x80, 0xff, int(256)]);
      break;
    case 2:
      b = b.slice(0, int(b.length));
      break;
    case 3:
      b = Uint8Array.from([...b, ...Array.from({ length: 1 + int(40) }, () => int(256))]);
      break;
    case 4: // a payload length set to an extreme
    case 5: {
      if (payloads.length === 0) break;
      const at = pick(payloads);
      const len = (b[at + 2]! << 8) | b[at + 3]!;
      const v = pick([0, 1, 3, 4, 5, len - 1, len + 1, 0xffff, int(0x10000)]) & 0xffff;
      b[at + 2] = v >> 8;
      b[at + 3] = v & 0xff;
      break;
    }
    case 6: // a Next Payload retyped (known, unknown, critical)
      if (payloads.length === 0) break;
      b[pick(payloads)] = pick([0, 33, 34, 40, 41, 44, 46, 47, 53, 99, int(256)]);
      if (int(2) === 0) b[pick(payloads) + 1] = 0x80;
      break;
    case 7: // a byte inside a payload body set
      b[28 + int(Math.max(1, b.length - 28))] = int(256);
      break;
    case 8: // the header's Next Payload retyped
      b[16] = pick([0, 33, 41, 46, 53, 200, int(256)]);
      break;
  }
  // Repair the header Length most of the time, so the mutation reaches the payloads.
  if (b.length >= 28 && int(4) !== 0) writeU32(b, 24, b.length);
  return b;
}

function plausible(): Uint8Array {
  const b = Uint8Array.from({ length: 28 + int(200) }, () => int(256));
  b[16] = pick([33, 34, 40, 41, 46, int(256)]);
  b[17] = 0x20;
  writeU32(b, 24, b.length);
  return b;
}

function checkFailure(r: IkeDecodeFailure, input: Uint8Array): void {
  if (!REASONS.includes(r.reason) || typeof r.detail !== 'string' || r.detail.length === 0 || !(r.at >= 0 && r.at <= input.length)) {
    throw new Error(`bad failure ${JSON.stringify({ ...r, header: undefined })} for ${input.length} octets`);
  }
}

describe('IKEv2 decoder fuzz (fixed seed)', () => {
  it('decodeIkeMessage: 100k random and mutated inputs never throw; successes re-encode to themselves', () => {
    const seen = new Set<string>();
    let decoded = 0;
    for (let n = 0; n < 100_000; n++) {
      const kind = int(10);
      const input = kind === 0 ? Uint8Array.from({ length: int(120) }, () => int(256)) : kind === 1 ? plausible() : mutate(pick(POOL));
      const r = decodeIkeMessage(input);
      if (!r.ok) {
        checkFailure(r, input);
        seen.add(r.reason);
        continue;
      }
      decoded++;
      const again = decodeIkeMessage(encodeIkeMessage(r.message));
      if (!again.ok) throw new Error(`re-encoded message does not decode: ${again.detail}`);
      expect(again.message).toEqual(r.message);
    }
    expect([...seen].sort()).toEqual(['invalidMajorVersion', 'malformed', 'truncated', 'unsupportedCriticalPayload']);
    expect(decoded).toBeGreaterThan(5_000);
  });

  it('decodePayloadChain as SK plaintext: 20k inputs never throw', () => {
    const inner = fc.sample(arbInnerPayloads, { seed: SEED, numRuns: 100 }).map((ps) => encodeIkeMessage({ header: { spiI: new Uint8Array(8), spiR: new Uint8Array(8), minorVersion: 0, exchangeType: 35, initiator: true, response: false, messageId: 1 }, payloads: ps }));
    for (let n = 0; n < 20_000; n++) {
      const msg = mutate(pick(inner));
      const body = msg.subarray(Math.min(28, msg.length));
      const r = decodePayloadChain(body, msg[16] ?? 0, 0, body.length, { insideSk: true });
      if (!r.ok) checkFailure(r, body);
    }
  });

  it('unprotectIkeMessage: 20k mutated protected messages never throw, and none that changed opens', () => {
    const suites = [
      { t: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 }, keys: { encKey: new Uint8Array(16).fill(1), integKey: new Uint8Array(32).fill(2) }, iv: 16 },
      { t: { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(36).fill(3) }, iv: 8 },
      { t: { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, keys: { encKey: new Uint8Array(36).fill(4) }, iv: 8 },
    ].map((s) => ({ cipher: createSkCipher(s.t, s.keys), iv: s.iv }));
    const sealed = fc.sample(fc.tuple(arbInnerPayloads, fc.nat(2)), { seed: SEED, numRuns: 60 }).map(([payloads, s]) => {
      const { cipher, iv } = suites[s]!;
      const header = { spiI: fromHex('0102030405060708'), spiR: fromHex('1112131415161718'), minorVersion: 0, exchangeType: 35, initiator: true, response: false, messageId: 1 };
      return { cipher, bytes: protectIkeMessage({ header, payloads, iv: new Uint8Array(iv).fill(s) }, cipher) };
    });
    let opened = 0;
    for (let n = 0; n < 20_000; n++) {
      const { cipher, bytes } = pick(sealed);
      const input = mutate(bytes);
      const r = unprotectIkeMessage(input, cipher);
      if (r.ok) {
        // Only a mutation that changed nothing (a Length "repaired" to what it was) may open.
        expect(toHex(input)).toBe(toHex(bytes));
        opened++;
        continue;
      }
      checkFailure(r, input);
    }
    expect(opened).toBeLessThan(2_000);
  });
});
