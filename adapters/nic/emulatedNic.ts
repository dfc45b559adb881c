/**
 * `emulatedNic(options)`: an IPsec offload NIC in software that does the crypto for real with
 * the engine — the twin of a hardware `OffloadNic` (DESIGN §5), with fault injection for tests.
 * What it declares it does; what it does not do (AH, large send) it refuses to declare.
 */
import { randomFillSync } from 'node:crypto';
import type { NicCapabilities } from '../../engine/aggregates/nic.js';
import type { CryptoBackend } from '../../engine/crypto/backend.js';
import { ENCR_SPECS, INTEG_SPECS } from '../../engine/crypto/suites.js';
import type { CryptoBackendName } from '../../engine/crypto/types.js';
import { requireRange } from '../../engine/errors.js';
import { standardIvSource, type IvSource } from '../../engine/esp/ivSource.js';
import { inboundKey, newNicCounters, programEntry, specGap, updateEntry, type NicCounters, type NicEntry } from './nicTable.js';
import { receiveOne } from './receivePath.js';
import { transmitOne } from './transmitPath.js';
import type { NicAddSaResult, NicHandle, NicRxIndication, NicSaSpec, NicSaUpdate, NicTxRequest, NicTxResult, OffloadNic } from './types.js';

/**
 * Everything the engine can do with ESP, 1024 SAs.
 *
 * @example
 * emulatedNic({ name: 'nic0', capabilities: { ...EMULATED_NIC_DEFAULTS, udpEsp: false } })
 */
export const EMULATED_NIC_DEFAULTS: NicCapabilities = {
  encryption: Object.keys(ENCR_SPECS).map(Number),
  aesKeyBits: [128, 192, 256],
  integrity: Object.keys(INTEG_SPECS).map(Number),
  modes: 'both', transportTunnelCombined: true,
  esp: true, ah: false, ahEspCombined: false,
  udpEsp: true, ipv6: true, ipv4Options: true, largeSend: false, extendedSequenceNumbers: true,
  saOffloadCapacity: 1024,
};

/** How to build an emulated NIC. */
export interface EmulatedNicOptions {
  name: string;
  /** Overrides of `EMULATED_NIC_DEFAULTS`: a NIC that offloads less. */
  capabilities?: Partial<NicCapabilities>;
  /** Largest IP packet sent; bigger ones are refused (`needsFragmentation`). Default 1500. */
  mtu?: number;
  /** Where the NIC's IVs come from; default random for CBC, the sequence number otherwise. */
  ivSource?: IvSource;
  /** The NIC's crypto; default `node`. */
  backend?: CryptoBackendName | CryptoBackend;
}

/** Faults a test can inject. */
export interface NicFaults {
  /** Forgets an SA as a firmware reset would: its handle stops working, its slot is free. */
  loseSa(handle: NicHandle): void;
  /** Flips an ICV bit of each of the next `count` packets: received (before the check) or sent. */
  corruptNext(count: number, direction?: 'rx' | 'tx'): void;
  /** Sets SaDeleteReq on the next packet received over this SA. */
  requestDeleteOnNext(handle: NicHandle): void;
  /** Fails the next `count` ADD_SA batches whole, every SA with `reason`. */
  refuseAddSa(count?: number, reason?: 'capacity' | 'unsupported'): void;
}

/** The emulated NIC: the port, plus what a test looks at and breaks. */
export interface EmulatedNic extends OffloadNic {
  readonly counters: Readonly<NicCounters>;
  /** SAs in the table. */
  readonly saCount: number;
  readonly faults: NicFaults;
}

/**
 * Creates an emulated offload NIC. Throws a RangeError naming the option it cannot honour.
 *
 * @example
 * const nic = emulatedNic({ name: 'nic0', capabilities: { saOffloadCapacity: 4 } });
 * const [r] = await nic.addSa([spec]);
 */
export function emulatedNic(options: EmulatedNicOptions): EmulatedNic {
  const caps: NicCapabilities = { ...EMULATED_NIC_DEFAULTS, ...options.capabilities };
  requireRange(typeof options.name === 'string' && options.name.length > 0, 'name', 'must be a non-empty string');
  requireRange(!caps.ah && !caps.ahEspCombined, 'capabilities', 'the emulated NIC offloads ESP only (ah and ahEspCombined must be false)');
  requireRange(!caps.largeSend, 'capabilities', 'the emulated NIC does not segment (largeSend must be false)');
  requireRange(caps.encryption.every((e) => e in ENCR_SPECS) && caps.integrity.every((i) => i === 0 || i in INTEG_SPECS), 'capabilities', 'declares an algorithm the engine does not implement');
  requireRange(Number.isInteger(caps.saOffloadCapacity) && caps.saOffloadCapacity >= 0, 'capabilities', `saOffloadCapacity must be a non-negative integer, got ${caps.saOffloadCapacity}`);
  const mtu = options.mtu ?? 1500;
  // RFC 791 §3.1: every IPv4 link carries 68 octets.
  requireRange(mtu >= 68, 'mtu', `must be at least 68, got ${mtu}`);
  const backend = options.backend ?? 'node';
  const ivSource = options.ivSource ?? standardIvSource((b) => randomFillSync(b));

  const table = new Map<NicHandle, NicEntry>();
  const inbound = new Map<string, NicEntry>();
  const counters = newNicCounters();
  let nextHandle = 1;
  const pending = { rx: 0, tx: 0, refuse: 0, refuseReason: 'capacity' as 'capacity' | 'unsupported' };
  const take = (k: 'rx' | 'tx') => (pending[k] > 0 ? (pending[k]--, true) : false);
  const remove = (handle: NicHandle): boolean => {
    const e = table.get(handle);
    if (!e) return false;
    table.delete(handle);
    if (e.spec.direction === 'inbound') inbound.delete(inboundKey(e.spec.spi, e.spec.dst));
    return true;
  };
  const rx = { caps, lookup: (spi: number, dst: Uint8Array) => inbound.get(inboundKey(spi, dst)), corruptRx: () => take('rx') };
  const tx = { caps, mtu, ivSource, entry: (h: number) => table.get(h), corruptTx: () => take('tx') };

  function addBatch(batch: readonly NicSaSpec[]): NicAddSaResult[] {
    counters.addSaCalls++;
    if (pending.refuse > 0) {
      pending.refuse--;
      counters.saRejected += batch.length;
      return batch.map(() => ({ handle: null, reason: pending.refuseReason }));
    }
    // Build every entry first: a bad spec throws before anything is added.
    const keys = new Set<string>();
    let free = caps.saOffloadCapacity - table.size;
    const verdicts = batch.map((spec, i) => {
      const entry = programEntry(nextHandle + i, spec, backend);
      if (spec.direction === 'inbound') {
        const key = inboundKey(spec.spi, spec.dst);
        requireRange(!inbound.has(key) && !keys.has(key), 'batch', `an inbound SA with SPI 0x${spec.spi.toString(16)} to this destination is already offloaded`);
        keys.add(key);
      }
      if (specGap(caps, spec) !== undefined) return 'unsupported' as const;
      if (free <= 0) return 'capacity' as const;
      free--;
      return entry;
    });
    // NDIS ADD_SA: if the request fails, none of the SAs in the list were offloaded.
    if (verdicts.some((v) => typeof v === 'string')) {
      counters.saRejected += batch.length;
      return verdicts.map((v) => (typeof v === 'string' ? { handle: null, reason: v } : { handle: null }));
    }
    nextHandle += batch.length;
    return (verdicts as NicEntry[]).map((e) => {
      table.set(e.handle, e);
      if (e.spec.direction === 'inbound') inbound.set(inboundKey(e.spec.spi, e.spec.dst), e);
      counters.saAdded++;
      return { handle: e.handle };
    });
  }

  function count(ind: NicRxIndication): NicRxIndication {
    counters.rxPackets++;
    if (!ind.cryptoDone) counters.rxBypassed++;
    else {
      counters.rxCryptoDone++;
      if (ind.cryptoStatus === 'authFailed') counters.rxAuthFailed++;
      else if (ind.cryptoStatus !== 'success') counters.rxOtherFailures++;
      if (ind.saDeleteRequest) counters.rxDeleteRequests++;
    }
    return ind;
  }

  const nic: EmulatedNic = {
    name: options.name,
    capabilities: caps,
    counters,
    get saCount() {
      return table.size;
    },
    addSa: async (batch) => addBatch(batch),
    deleteSa: async (handle) => {
      const done = remove(handle);
      if (done) counters.saDeleted++;
      return done;
    },
    updateSa: async (handle: NicHandle, update: NicSaUpdate) => {
      const e = table.get(handle);
      if (!e) return false;
      const next = updateEntry(e, update, backend);
      table.set(handle, next);
      if (next.spec.direction === 'inbound') inbound.set(inboundKey(next.spec.spi, next.spec.dst), next);
      counters.saUpdated++;
      return true;
    },
    reset: async () => {
      table.clear();
      inbound.clear();
      counters.resets++;
    },
    transmit: (packets: readonly NicTxRequest[]): NicTxResult[] =>
      packets.map((p) => {
        const r = transmitOne(p, tx);
        if (r.ok) {
          counters.txPackets++;
          counters.txBytes += r.packet.length;
        } else counters.txRefused++;
        return r;
      }),
    receive: (datagrams) => datagrams.map((d) => count(receiveOne(d, rx))),
    faults: {
      loseSa: (handle) => void (remove(handle) && counters.saLost++),
      corruptNext: (n, direction = 'rx') => void (pending[direction] += n),
      requestDeleteOnNext: (handle) => {
        const e = table.get(handle);
        if (e) e.deleteRequestPending = true;
      },
      refuseAddSa: (n = 1, reason = 'capacity') => {
        pending.refuse += n;
        pending.refuseReason = reason;
      },
    },
  };
  return nic satisfies OffloadNic;
}
