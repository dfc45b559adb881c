/**
 * The emulated NIC's SA table and counters: what lives "in the NIC". Keys stay here once
 * programmed; the stack only ever holds handles.
 */
import { capabilityGap, type NicCapabilities } from '../../engine/aggregates/nic.js';
import type { CryptoBackend } from '../../engine/crypto/backend.js';
import type { CryptoBackendName } from '../../engine/crypto/types.js';
import { createEspSa, type EspSa } from '../../engine/esp/espSa.js';
import { ReplayWindow } from '../../engine/replay/replayWindow.js';
import type { NicHandle, NicSaSpec } from './types.js';

/** One offloaded SA: the spec it was programmed with and the NIC's own SA state. */
export interface NicEntry {
  readonly handle: NicHandle;
  readonly spec: NicSaSpec;
  /** The engine's SA state inside the NIC: transform with keys, outbound sequence counter. */
  sa: EspSa;
  /**
   * Inbound with ESN: the highest authenticated number, kept only to infer the high 32 bits of
   * the next packets (RFC 4303 App. A2.2) — the NIC verifies the ICV with them. It is never used
   * to drop anything: replay checking is the stack's (RFC 4303 §3.4.3).
   */
  esn: ReplayWindow | undefined;
  /** A fault asked for SaDeleteReq on the next packet of this SA. */
  deleteRequestPending: boolean;
}

/** What the NIC counts (cf. per-SA offload statistics of NDIS and the XFRM MIB). */
export interface NicCounters {
  addSaCalls: number;
  saAdded: number;
  saRejected: number;
  saDeleted: number;
  saUpdated: number;
  saLost: number;
  resets: number;
  txPackets: number;
  txBytes: number;
  txRefused: number;
  rxPackets: number;
  rxCryptoDone: number;
  rxBypassed: number;
  rxAuthFailed: number;
  rxOtherFailures: number;
  rxDeleteRequests: number;
}

/**
 * All counters at zero.
 *
 * @example
 * const counters = newNicCounters();
 */
export function newNicCounters(): NicCounters {
  return {
    addSaCalls: 0, saAdded: 0, saRejected: 0, saDeleted: 0, saUpdated: 0, saLost: 0, resets: 0,
    txPackets: 0, txBytes: 0, txRefused: 0,
    rxPackets: 0, rxCryptoDone: 0, rxBypassed: 0, rxAuthFailed: 0, rxOtherFailures: 0, rxDeleteRequests: 0,
  };
}

/**
 * The inbound lookup key: SPI and destination (RFC 4301 §4.4.2; NDIS matches SPI and
 * destination address too).
 *
 * @example
 * inboundKey(0x1001, dst) // '4097/c0000202'
 */
export function inboundKey(spi: number, dst: Uint8Array): string {
  let hex = '';
  for (const b of dst) hex += b.toString(16).padStart(2, '0');
  return `${spi >>> 0}/${hex}`;
}

/**
 * Whether the declared capabilities cover a spec; undefined when they do.
 *
 * @example
 * specGap(caps, spec) // 'udpEsp' for a NAT-T SA on a NIC without UDP-ESP
 */
export function specGap(caps: NicCapabilities, spec: NicSaSpec): string | undefined {
  const ipv6 = spec.dst.length === 16 || spec.tunnel?.src.length === 16;
  return capabilityGap(caps, {
    protocol: 'esp', mode: spec.mode, encr: spec.suite.encr, integ: spec.suite.integ, esn: spec.esn ?? false, natT: spec.natT !== undefined, ipv6,
    ...(spec.suite.encrKeyBits !== undefined ? { encrKeyBits: spec.suite.encrKeyBits } : {}),
  });
}

/**
 * Builds the NIC-side state of a spec; throws the engine's RangeError on a bad spec (key
 * sizes, SPI, tunnel addresses).
 *
 * @example
 * const entry = programEntry(7, spec, 'node');
 */
export function programEntry(handle: NicHandle, spec: NicSaSpec, backend: CryptoBackendName | CryptoBackend): NicEntry {
  const { dst: _dst, ...config } = spec;
  const sa = createEspSa({ ...config, backend });
  const esn = spec.direction === 'inbound' && sa.esn ? ReplayWindow.create({ size: spec.replayWindow ?? 128, esn: true }) : undefined;
  return { handle, spec, sa, esn, deleteRequestPending: false };
}

/**
 * The entry after UPDATE_SA: a new outbound sequence start (the SA state is rebuilt around the
 * same keys), or the ESN high bits an inbound SA is in now.
 *
 * @example
 * const updated = updateEntry(entry, { sequence: { hi: 0, lo: 5000 } }, 'node');
 */
export function updateEntry(entry: NicEntry, update: { seqHi?: number; sequence?: { hi: number; lo: number } }, backend: CryptoBackendName | CryptoBackend): NicEntry {
  let next = entry;
  if (update.sequence && entry.spec.direction === 'outbound') {
    next = { ...programEntry(entry.handle, { ...entry.spec, sequenceStart: update.sequence }, backend), deleteRequestPending: entry.deleteRequestPending };
  }
  if (update.seqHi !== undefined && entry.esn) {
    const w = entry.esn;
    const topHi = update.seqHi >>> 0;
    const bitmap = new Array<number>(Math.ceil(w.size / 32)).fill(0);
    if (topHi !== 0 || w.topLo !== 0) bitmap[0] = 1;
    next = { ...next, esn: ReplayWindow.restore(w.size, true, { topHi, topLo: w.topLo, bitmap }) };
  }
  return next;
}
