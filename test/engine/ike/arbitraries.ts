/** fast-check arbitraries for well-formed IKEv2 payloads and messages (RFC 7296 §3). */

import { fc } from '@fast-check/vitest';
import { isKnownPayloadType } from '../../../engine/ike/payloads.js';
import type {
  IkeHeader,
  IkeMessage,
  IkePayload,
  Proposal,
  TrafficSelector,
  Transform,
  TransformAttribute,
} from '../../../engine/ike/types.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u15 = fc.integer({ min: 0, max: 0x7fff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

export const arbHeader: fc.Arbitrary<IkeHeader> = fc.record({
  spiI: bytes(8, 8),
  spiR: bytes(8, 8),
  minorVersion: fc.constant(0),
  exchangeType: u8,
  initiator: fc.boolean(),
  response: fc.boolean(),
  messageId: u32,
});

const arbAttribute: fc.Arbitrary<TransformAttribute> = fc.oneof(
  fc.record({ type: u15, value: u16 }),
  fc.record({ type: u15.filter((t) => t !== 14), value: bytes(0, 12) }),
);
const arbTransform: fc.Arbitrary<Transform> = fc.record({
  type: u8,
  id: u16,
  attributes: fc.uniqueArray(arbAttribute, { selector: (a) => a.type, maxLength: 3 }),
});
const arbProtocolSpi = fc.oneof(
  fc.record({ protocol: fc.constant(1), spi: fc.oneof(bytes(0, 0), bytes(8, 8)) }),
  fc.record({ protocol: fc.constantFrom(2, 3), spi: bytes(4, 4) }),
  fc.record({ protocol: fc.oneof(fc.constant(0), fc.integer({ min: 4, max: 255 })), spi: bytes(0, 16) }),
);
const arbProposal: fc.Arbitrary<Proposal> = fc
  .tuple(u8, arbProtocolSpi, fc.array(arbTransform, { minLength: 1, maxLength: 6 }))
  .map(([number, ps, transforms]) => ({ number, protocol: ps.protocol, spi: ps.spi, transforms }));

const arbSelector: fc.Arbitrary<TrafficSelector> = fc.oneof(
  fc.constantFrom(7 as const, 8 as const).chain((tsType) => {
    const n = tsType === 7 ? 4 : 16;
    return fc.record({ tsType: fc.constant(tsType), ipProtocol: u8, startPort: u16, endPort: u16, startAddress: bytes(n, n), endAddress: bytes(n, n) });
  }),
  fc.record({ tsType: u8.filter((t) => t !== 7 && t !== 8), octets: bytes(1, 24) }),
);

const unknownType = u8.filter((t) => t !== 0 && !isKnownPayloadType(t));

/** Every payload kind except the Encrypted ones (which must come last). */
export const ARB_CLEAR_PAYLOADS: Record<string, fc.Arbitrary<IkePayload>> = {
  SA: fc.record({ type: fc.constant('SA' as const), proposals: fc.array(arbProposal, { minLength: 1, maxLength: 4 }) }),
  KE: fc.record({ type: fc.constant('KE' as const), group: u16, data: bytes(0, 300) }),
  ID: fc.record({ type: fc.constantFrom('IDi' as const, 'IDr' as const), idType: u8, data: bytes(0, 64) }),
  CERT: fc.record({ type: fc.constantFrom('CERT' as const, 'CERTREQ' as const), encoding: u8, data: bytes(0, 64) }),
  AUTH: fc.record({ type: fc.constant('AUTH' as const), method: u8, data: bytes(0, 64) }),
  Nonce: fc.record({ type: fc.constant('Nonce' as const), data: bytes(16, 256) }),
  N: fc.record({ type: fc.constant('N' as const), protocol: u8, spi: bytes(0, 16), notifyType: u16, data: bytes(0, 64) }),
  D: fc.oneof(
    fc.record({ type: fc.constant('D' as const), protocol: fc.constant(1), spis: fc.constant([] as Uint8Array[]) }),
    fc.record({ type: fc.constant('D' as const), protocol: fc.constantFrom(2, 3), spis: fc.array(bytes(4, 4), { maxLength: 6 }) }),
  ),
  V: fc.record({ type: fc.constant('V' as const), data: bytes(0, 40) }),
  EAP: fc.record({ type: fc.constant('EAP' as const), data: bytes(0, 40) }),
  TS: fc.record({ type: fc.constantFrom('TSi' as const, 'TSr' as const), selectors: fc.array(arbSelector, { minLength: 1, maxLength: 4 }) }),
  CP: fc.record({
    type: fc.constant('CP' as const),
    cfgType: u8,
    attributes: fc.array(fc.record({ type: u15, value: bytes(0, 20) }), { maxLength: 5 }),
  }),
  unknown: fc.record({ type: fc.constant('unknown' as const), payloadType: unknownType, critical: fc.boolean(), body: bytes(0, 40) }),
};

export const ARB_ENCRYPTED_PAYLOADS: Record<string, fc.Arbitrary<IkePayload>> = {
  SK: fc.record({ type: fc.constant('SK' as const), firstPayload: u8, body: bytes(0, 120) }),
  SKF: fc
    .integer({ min: 1, max: 0xffff })
    .chain((totalFragments) => fc.tuple(fc.constant(totalFragments), fc.integer({ min: 1, max: totalFragments }), u8, bytes(0, 80)))
    .map(([totalFragments, fragmentNumber, first, body]) => ({
      type: 'SKF' as const,
      firstPayload: fragmentNumber === 1 ? first : 0,
      fragmentNumber,
      totalFragments,
      body,
    })),
};

export const arbClearPayload = fc.oneof(...Object.values(ARB_CLEAR_PAYLOADS));

/**
 * A well-formed message: clear payloads, maybe an Encrypted payload last. Unknown payloads are
 * non-critical (a critical one refuses the message on receipt, RFC 7296 §2.5).
 */
export const arbMessage: fc.Arbitrary<IkeMessage> = fc
  .tuple(arbHeader, fc.array(arbClearPayload, { maxLength: 7 }), fc.option(fc.oneof(...Object.values(ARB_ENCRYPTED_PAYLOADS)), { nil: undefined }))
  .map(([header, clear, encrypted]) => {
    const payloads = clear.map((p) => (p.type === 'unknown' ? { ...p, critical: false } : p));
    return { header, payloads: encrypted ? [...payloads, encrypted] : payloads };
  });

/** Inner payloads of an SK payload: clear payload kinds only, no critical unknown ones. */
export const arbInnerPayloads = fc.array(arbClearPayload, { maxLength: 6 }).map((ps) =>
  ps.map((p) => (p.type === 'unknown' ? { ...p, critical: false } : p)),
);
