/**
 * The adapters with no heavy dependency (`ipsec-es/adapters`): the embedded event store and its
 * in-memory twin, key stores, clock, randomness and the emulated offload NIC. PostgreSQL and
 * KurrentDB have subpaths of their own.
 */
export * from './eventStore/types.js';
export { fileLogEventStore } from './eventStore/fileLog/fileLogEventStore.js';
export { memoryEventStore } from './eventStore/memory/memoryEventStore.js';
export { factLog, toEventData, fromRecorded, readLog, runProjection, memoryCheckpoints } from './eventStore/facts.js';
export type { KeyStore, KeyMaterial } from './keyStore/types.js';
export { KeyUnavailable } from './keyStore/types.js';
export { memoryKeyStore } from './keyStore/memoryKeyStore.js';
export { sealedFileKeyStore, loadKek } from './keyStore/sealedFileKeyStore.js';
export { systemClock } from './clock/systemClock.js';
export { cryptoRandom, seededRandom } from './random/random.js';
export { emulatedNic, type EmulatedNic } from './nic/emulatedNic.js';
export type { OffloadNic, NicSaSpec, NicRxIndication, NicTxResult } from './nic/types.js';
export * from './udp/index.js';
