/**
 * Properties of the IKEv2 decoder on real messages: every message two of our daemons exchanged
 * (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA for a CHILD and an IKE SA rekey, INFORMATIONAL DELETE;
 * AES-GCM and AES-CBC+HMAC), captured from an `ikePair` run, and the payload chains inside their
 * SK payloads (opened with the keys the daemons derived). fuzz.test.ts runs a fixed-seed loop
 * over generated messages; this adds what it does not reach:
 *  - payload reordering, duplication and removal, with the chain re-linked, against a model (the
 *    same payloads in the new order, or `malformed` when the Encrypted payload is not last),
 *  - the same inside real SK plaintexts, sealed again with the real keys,
 *  - stacked mutations (bit flips, octet sets, truncation, extension, header and payload Length
 *    edits, Next Payload retypes) of the captured messages: decode never throws, every failure
 *    is a documented reason with an offset inside the input, every success re-encodes to bytes
 *    that decode to the same value, and re-encoding is idempotent.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readU16, writeU32 } from '../../../engine/bytes.js';
import { IKE_PAYLOAD } from '../../../engine/ike/constants.js';
import { decodeIkeMessage, encodeIkeMessage } from '../../../engine/ike/message.js';
import { decodePayloadChain } from '../../../engine/ike/payloadChain.js';
import { createSkCipher, protectIkeMessage, unprotectIkeMessage, type SkCipher } from '../../../engine/ike/sk.js';
import type { IkeDecodeFailure, IkeDecodeReason, IkePayload } from '../../../engine/ike/types.js';
import { IkeSession } from '../../../machines/ikeSa/ikeSession.js';
import { CBC256_SHA256, ikePair, MODP2048_CBC, udp } from '../../support/ikePair.js';

const REASONS: readonly IkeDecodeReason[] = ['truncated', 'malformed', 'invalidMajorVersion', 'unsupportedCriticalPayload', 'authFailed', 'badPadding'];
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

interface Captured {
  bytes: Uint8Array;
  /** The inbound SK protection of the message's receiver (for encrypted messages). */
  cipher?: SkCipher;
}

/** Every IKE message of a pair's life (handshake, CHILD rekey, IKE rekey, DELETE), with the keys to open it. */
async function capture(options: Parameters<typeof ikePair>[0]): Promise<Captured[]> {
  const sessions = new Set<IkeSession>();
  const spy = vi.spyOn(IkeSession.prototype, 'localSpi', 'get');
  spy.mockImplementation(function (this: IkeSession) {
    sessions.add(this);
    return this.originalInitiator ? this.spiI : this.spiR;
  });
  try {
    const lab = ikePair({ ...options, ikeLifetimes: { softMs: 10_000, hardMs: 60_000 }, lifetimes: { soft: { timeMs: 3_600_000 }, hard: { timeMs: 4_000_000 } } });
    lab.send(lab.a, [udp('10.1.0.5', '10.2.0.7', 1)]);
    await lab.run(1_000);
    await lab.run(12_000, 500); // the IKE SA rekey and the DELETE of the old IKE SA
    const out = lab.liveSas(lab.a).find((id) => lab.a.gateway.state(id)!.params!.direction === 'outbound')!;
    lab.a.gateway.rekeys.request(out);
    await lab.run(3_000);
    await lab.a.ike.deleteIkeSa(lab.a.ike.list()[0]!.ikeSaId);
    await lab.run(1_000);
    // IKE_SA_INIT, IKE_AUTH, two CREATE_CHILD_SA (IKE and CHILD rekey), the INFORMATIONAL DELETEs, each a request and its response.
    const exchanges = lab.ikeLog.map((m) => `${m.bytes[18]}${(m.bytes[19]! & 0x20) ? 'r' : 'q'}`);
    for (const e of ['34q', '34r', '35q', '35r', '37q', '37r']) expect(exchanges).toContain(e);
    expect(exchanges.filter((e) => e === '36q' || e === '36r')).toHaveLength(4);
    return lab.ikeLog.map(({ bytes }) => {
      const s = [...sessions].find((x) => hex(x.spiI) === hex(bytes.subarray(0, 8)) && hex(x.spiR) === hex(bytes.subarray(8, 16)));
      if (!s || bytes[18] === 34) return { bytes };
      // §2.14: SK_ei/SK_ai protect what the original initiator sends (the I flag), SK_er/SK_ar the rest.
      const byI = (bytes[19]! & 0x08) !== 0;
      const t = { encr: s.suite.encr, ...(s.suite.encrKeyBits !== undefined ? { encrKeyBits: s.suite.encrKeyBits } : {}), integ: s.suite.integ };
      const enc = byI ? s.keys.skEi : s.keys.skEr;
      const integ = byI ? s.keys.skAi : s.keys.skAr;
      return { bytes, cipher: createSkCipher(t, { encKey: enc, ...(integ.length ? { integKey: integ } : {}) }) };
    });
  } finally {
    spy.mockRestore();
  }
}

let captured: Captured[] = [];
let encrypted: Array<{ bytes: Uint8Array; cipher: SkCipher; inner: IkePayload[] }> = [];

beforeAll(async () => {
  captured = [...(await capture({})), ...(await capture({ suitesA: [MODP2048_CBC], suitesB: [MODP2048_CBC], espA: [CBC256_SHA256], espB: [CBC256_SHA256] }))];
  encrypted = captured.flatMap(({ bytes, cipher }) => {
    if (!cipher) return [];
    const r = unprotectIkeMessage(bytes, cipher);
    if (!r.ok) throw new Error(`a captured message does not open: ${r.detail}`);
    return [{ bytes, cipher, inner: r.message.payloads }];
  });
});

afterAll(() => {
  captured = [];
  encrypted = [];
});

/** Generic payload headers of a chain: [offset, length, type] each, following Next Payload from `first`. */
function chainSlices(b: Uint8Array, first: number, start: number, end: number): Array<{ at: number; length: number; type: number }> {
  const out: Array<{ at: number; length: number; type: number }> = [];
  for (let at = start, type = first; type !== 0 && at + 4 <= end; ) {
    const length = readU16(b, at + 2);
    out.push({ at, length, type });
    if (type === IKE_PAYLOAD.SK || type === IKE_PAYLOAD.SKF || length < 4) break;
    type = b[at]!;
    at += length;
  }
  return out;
}

/**
 * Re-links payload slices in a new order: each payload's Next Payload names the one after it
 * (the Encrypted payload's names its first inner payload and is kept, §3.14).
 */
function relink(b: Uint8Array, slices: Array<{ at: number; length: number; type: number }>, order: number[]): { first: number; body: Uint8Array } {
  const parts = order.map((i) => b.slice(slices[i]!.at, slices[i]!.at + slices[i]!.length));
  parts.forEach((p, k) => {
    const type = slices[order[k]!]!.type;
    if (type !== IKE_PAYLOAD.SK && type !== IKE_PAYLOAD.SKF) p[0] = k + 1 < order.length ? slices[order[k + 1]!]!.type : 0;
  });
  return { first: order.length ? slices[order[0]!]!.type : 0, body: Uint8Array.from(parts.flatMap((p) => [...p])) };
}

/** Reorder / duplicate / drop, as a list of indices into the original payloads. */
const arbOrder = (n: number) =>
  fc.oneof(
    fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
    fc.array(fc.nat({ max: Math.max(0, n - 1) }), { minLength: 0, maxLength: n + 3 }).map((xs) => (n === 0 ? [] : xs)),
  );

function checkFailure(r: IkeDecodeFailure, input: Uint8Array): void {
  expect(REASONS).toContain(r.reason);
  expect(r.detail.length).toBeGreaterThan(0);
  expect(r.at).toBeGreaterThanOrEqual(0);
  expect(r.at).toBeLessThanOrEqual(input.length);
}

type Mutation =
  | { k: 'flip'; pos: number; bit: number }
  | { k: 'set'; pos: number; value: number }
  | { k: 'truncate'; pos: number }
  | { k: 'extend'; tail: Uint8Array }
  | { k: 'headerLength'; value: number }
  | { k: 'payloadLength'; which: number; value: number }
  | { k: 'retype'; which: number; value: number }
  | { k: 'critical'; which: number }
  | { k: 'version'; value: number };

const extremes = fc.oneof(fc.constantFrom(0, 1, 3, 4, 5, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), pos: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }),
  fc.record({ k: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ k: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ k: fc.constant('headerLength' as const), value: fc.oneof(fc.constantFrom(0, 27, 28, 29), fc.nat({ max: 600 }), fc.constant(0xffffffff)) }),
  fc.record({ k: fc.constant('payloadLength' as const), which: fc.nat(), value: extremes }),
  fc.record({ k: fc.constant('retype' as const), which: fc.nat(), value: fc.oneof(fc.constantFrom(0, 33, 34, 35, 40, 41, 46, 47, 53, 99), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ k: fc.constant('critical' as const), which: fc.nat() }),
  fc.record({ k: fc.constant('version' as const), value: fc.oneof(fc.constantFrom(0x20, 0x21, 0x2f), fc.integer({ min: 0, max: 255 })) }),
);

function mutate(src: Uint8Array, ms: Mutation[], repairLength: boolean): Uint8Array {
  let b = src.slice();
  for (const m of ms) {
    const slices = b.length >= 28 ? chainSlices(b, b[16]!, 28, b.length) : [];
    switch (m.k) {
      case 'flip':
        if (b.length) b[m.pos % b.length]! ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[m.pos % b.length] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, m.pos % (b.length + 1));
        break;
      case 'extend':
        b = Uint8Array.from([...b, ...m.tail]);
        break;
      case 'headerLength':
        if (b.length >= 28) writeU32(b, 24, m.value);
        break;
      case 'payloadLength': {
        const s = slices[m.which % Math.max(1, slices.length)];
        if (s) { b[s.at + 2] = m.value >> 8; b[s.at + 3] = m.value & 0xff; }
        break;
      }
      case 'retype': {
        const s = slices[m.which % Math.max(1, slices.length + 1)];
        if (s) b[s.at] = m.value;
        else if (b.length >= 28) b[16] = m.value;
        break;
      }
      case 'critical': {
        // §2.5: ignored for known types, refuses the message for unknown ones.
        const s = slices[m.which % Math.max(1, slices.length)];
        if (s) b[s.at + 1]! |= 0x80;
        break;
      }
      case 'version':
        if (b.length >= 28) b[17] = m.value;
        break;
    }
  }
  if (repairLength && b.length >= 28) writeU32(b, 24, b.length);
  return b;
}

describe('IKEv2 decoder on messages captured from two daemons', () => {
  it('captures every exchange, and each captured message re-encodes to its own bytes', () => {
    expect(captured.length).toBeGreaterThanOrEqual(24);
    expect(encrypted).toHaveLength(captured.filter((c) => c.bytes[18] !== 34).length);
    for (const { bytes } of captured) {
      const r = decodeIkeMessage(bytes);
      if (!r.ok) throw new Error(r.detail);
      expect(hex(encodeIkeMessage(r.message))).toBe(hex(bytes));
    }
  });

  test.prop([fc.nat(), fc.array(arbMutation, { minLength: 1, maxLength: 4 }), fc.boolean()], { numRuns: 2_000 })(
    'stacked mutations of real messages: never a throw, documented failures, successes re-encode consistently',
    (pick, ms, repair) => {
      const input = mutate(captured[pick % captured.length]!.bytes, ms, repair);
      const r = decodeIkeMessage(input);
      if (!r.ok) return checkFailure(r, input);
      const again = encodeIkeMessage(r.message);
      const r2 = decodeIkeMessage(again);
      if (!r2.ok) throw new Error(`re-encoded message does not decode: ${r2.detail}`);
      expect(r2.message).toEqual(r.message);
      expect(hex(encodeIkeMessage(r2.message))).toBe(hex(again));
    },
  );

  // Generated after beforeAll has captured the messages (chain runs at generation time).
  const arbReordered = fc.nat().chain((pick) => {
    const { bytes } = captured[pick % captured.length]!;
    return fc.tuple(fc.constant(bytes), arbOrder(chainSlices(bytes, bytes[16]!, 28, bytes.length).length));
  });
  const arbInnerReordered = fc.nat().chain((pick) => {
    const e = encrypted[pick % encrypted.length]!;
    return fc.tuple(fc.constant(e), arbOrder(e.inner.length));
  });

  test.prop([arbReordered], { numRuns: 800 })('payloads reordered, duplicated or dropped (chain re-linked) decode to exactly that list, or malformed when SK is not last', ([bytes, order]) => {
    const original = decodeIkeMessage(bytes);
    if (!original.ok) throw new Error(original.detail);
    const slices = chainSlices(bytes, bytes[16]!, 28, bytes.length);
    const { first, body } = relink(bytes, slices, order);
    const input = Uint8Array.from([...bytes.subarray(0, 28), ...body]);
    input[16] = first;
    writeU32(input, 24, input.length);
    const r = decodeIkeMessage(input);
    const skAt = order.findIndex((i) => slices[i]!.type === IKE_PAYLOAD.SK);
    if (skAt >= 0 && skAt !== order.length - 1) {
      // §3.14: "The Encrypted payload, if present in a message, MUST be the last payload".
      expect(r.ok ? 'ok' : r.reason).toBe('malformed');
      return;
    }
    if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
    expect(r.message.payloads).toEqual(order.map((i) => original.message.payloads[i]));
  });

  test.prop([arbInnerReordered, fc.uint8Array({ minLength: 16, maxLength: 16 })], { numRuns: 400 })(
    'inside real SK payloads: reordered / duplicated / dropped inner payloads, sealed with the real keys, open to exactly that list',
    ([{ bytes, cipher, inner }, order], ivSource) => {
      const payloads = order.map((i) => inner[i]!);
      const header = (decodeIkeMessage(bytes) as { ok: true; message: { header: Parameters<typeof protectIkeMessage>[0]['header'] } }).message.header;
      const sealed = protectIkeMessage({ header, payloads, iv: ivSource.subarray(0, cipher.ivLength) }, cipher);
      const r = unprotectIkeMessage(sealed, cipher);
      if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
      expect(r.message.payloads).toEqual(payloads);
      expect(r.message.header).toEqual(header);
    },
  );

  test.prop([fc.nat(), fc.array(arbMutation, { minLength: 1, maxLength: 3 })], { numRuns: 1_000 })(
    'mutated real SK plaintexts (the inner chain as decodePayloadChain sees it) never throw; failures are documented',
    (pick, ms) => {
      const { inner, bytes } = encrypted[pick % encrypted.length]!;
      // The inner chain behind a stand-in header, so the same mutations reach its payload headers.
      const header = (decodeIkeMessage(bytes) as { ok: true; message: { header: Parameters<typeof encodeIkeMessage>[0]['header'] } }).message.header;
      const plain = encodeIkeMessage({ header, payloads: inner });
      const m = mutate(plain, ms, true);
      const body = m.subarray(Math.min(28, m.length));
      const r = decodePayloadChain(body, m[16] ?? 0, 0, body.length, { insideSk: true });
      if (!r.ok) return checkFailure(r, body);
      expect(r.payloads.every((p) => p.type !== 'SK' && p.type !== 'SKF')).toBe(true);
    },
  );

  test.prop([fc.nat(), fc.array(arbMutation, { minLength: 1, maxLength: 3 })], { numRuns: 600 })(
    'mutated real protected messages never open unless unchanged, and never throw',
    (pick, ms) => {
      const { bytes, cipher } = encrypted[pick % encrypted.length]!;
      const input = mutate(bytes, ms, true);
      const r = unprotectIkeMessage(input, cipher);
      if (r.ok) expect(hex(input)).toBe(hex(bytes));
      else checkFailure(r, input);
    },
  );

  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat()], { numRuns: 1_500 })('random octets, alone or behind a real header: never a throw', (random, pick) => {
    for (const input of [random, Uint8Array.from([...captured[pick % captured.length]!.bytes.subarray(0, 28), ...random])]) {
      if (input.length >= 28 && (pick & 1) === 0) writeU32(input, 24, input.length);
      const r = decodeIkeMessage(input);
      if (!r.ok) checkFailure(r, input);
    }
  });
});
