/**
 * `ipsec-es/engine`: the pure data path. Packet codecs, crypto suites on two back ends, ESP and
 * AH processing, anti-replay, drop reasons. No I/O, no timers, no randomness of its own.
 */
export * from './errors.js';
export * from './dropReasons.js';
export { fromHex, toHex, constantTimeEqual } from './bytes.js';
export { allocPacket } from './packetBuffer.js';

export * from './crypto/transformIds.js';
export type * from './crypto/types.js';
export type { CryptoBackend, Aead, RawCipher, Mac, AeadAlgorithm, RawCipherAlgorithm, HashAlgorithm } from './crypto/backend.js';
export { ENCR_SPECS, INTEG_SPECS, encrSpec, integSpec, type EncrSpec, type IntegSpec } from './crypto/suites.js';
export { createEspTransform } from './crypto/espTransform.js';
export { createIntegrity } from './crypto/integrity.js';
export { backendNamed } from './crypto/backends.js';
export { nodeBackend } from './crypto/nodeBackend.js';
export { nobleBackend } from './crypto/nobleBackend.js';
export { nativeCryptoStatus, preferredBackend, type NativeCryptoStatus } from './crypto/nativeBackend.js';

export * from './sa/types.js';
export { SequenceCounter } from './sa/sequenceCounter.js';
export * from './replay/replayWindow.js';

export * from './esp/espSa.js';
export * from './esp/ivSource.js';
export * from './esp/encapsulate.js';
export * from './esp/decapsulate.js';
export { SealQueue, decapsulateBatch } from './esp/batch.js';

export * from './packet/ipProtocol.js';
export * from './packet/checksum.js';
export * from './packet/ipv4.js';
export * from './packet/ipv6.js';
export * from './packet/ipPacket.js';
export * from './packet/udp.js';
export * from './packet/udpEncap.js';
export * from './packet/espHeader.js';

export * from './ah/ahSa.js';
export { ahEncapsulate } from './ah/ahEncapsulate.js';
export * from './ah/ahDecapsulate.js';
export * from './bundle/bundle.js';

export * from './sad/types.js';
export * from './sad/sad.js';
export * from './sad/lifetime.js';
export * from './pfkey/index.js';
export { sadPfKeyPort, type SadAdapterOptions } from './pfkey/sadAdapter.js';

export * from './spd/types.js';
export * from './spd/spd.js';
export * from './spd/selectorFields.js';
export * from './events/fact.js';
export * from './events/saFacts.js';
export * from './events/otherFacts.js';
export * from './events/streams.js';
export * from './events/upcast.js';
export * from './aggregates/sa.js';
export * from './aggregates/policy.js';
export * from './projections/replay.js';
export * from './projections/timeline.js';
export { keyFingerprint } from './keys/fingerprint.js';
