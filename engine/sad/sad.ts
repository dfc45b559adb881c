import { AhSa } from '../ah/ahSa.js';
import type { BundleLookup } from '../bundle/bundle.js';
import { IpsecError, requireRange } from '../errors.js';
import type { SaLookup } from '../esp/decapsulate.js';
import { EspSa } from '../esp/espSa.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { SpiTable } from './spiTable.js';
import type { DataPathSa, IpsecProtocolName, SadEntry, SpiRange } from './types.js';

/** RFC 4303 §2.1 / RFC 4302 §2.4: 0 is local-use and 1..255 are IANA-reserved. */
export const SPI_MIN = 256;
export const SPI_MAX = 0xffffffff;
/** The default SPI range a gateway allocates from: all of it. */
export const DEFAULT_SPI_RANGE: SpiRange = { min: 0xc0000000, max: SPI_MAX };

/** A random integer in [0, n) from an injected source: the engine has no randomness of its own. */
export type RandomInt = (n: number) => number;

/**
 * The Security Association Database (RFC 4301 §4.4.2). Inbound entries are found by
 * (SPI, destination, protocol) in O(1) through a hash table in a typed array (./spiTable.ts:
 * about two cache lines per lookup, at 1k SAs as at 100k; RFC 4301 §4.1: the SPI alone may
 * identify an SA, but an SA may also be keyed by destination and protocol). Outbound entries are found by the SPD entry that created them, newest first, so a
 * rekeyed SA takes over while the old one drains (make-before-break).
 *
 * @example
 * const sad = new Sad();
 * sad.add({ id: 'sa-1', spi, protocol: 'esp', direction: 'inbound', dst, sa, lifetimes, addedAtMs: now,
 *   policyId: 'p1', statefulFragmentCheck: false, pathMtu: undefined });
 * decapsulate(datagram, sad.espLookup, drops);
 */
export class Sad {
  readonly #byId = new Map<string, SadEntry>();
  /** Inbound and larval entries by (SPI, destination, protocol). */
  readonly #bySpi = new SpiTable<SadEntry>();
  readonly #byPolicy = new Map<string, SadEntry[]>();

  get size(): number {
    return this.#byId.size;
  }

  /** Every entry, in insertion order. */
  entries(): IterableIterator<SadEntry> {
    return this.#byId.values();
  }

  get(id: string): SadEntry | undefined {
    return this.#byId.get(id);
  }

  /**
   * Adds an entry. Throws `IpsecError('sad.duplicate')` when the id, or an inbound
   * (SPI, destination, protocol), is already live.
   */
  add(entry: SadEntry): void {
    requireRange(Number.isInteger(entry.spi) && entry.spi >= SPI_MIN && entry.spi <= SPI_MAX, 'spi', `must be an integer in 256..2^32-1, got ${entry.spi}`);
    requireRange(entry.dst.length === 4 || entry.dst.length === 16, 'dst', `must be 4 or 16 octets, got ${entry.dst.length}`);
    if (entry.sa) checkDataPath(entry);
    if (this.#byId.has(entry.id)) throw new IpsecError('sad.duplicate', `SA ${entry.id} is already in the SAD`);
    if (entry.direction === 'inbound' && this.#bySpi.find(entry.spi, entry.dst, entry.protocol)) {
      throw new IpsecError('sad.duplicate', `an inbound ${entry.protocol.toUpperCase()} SA with SPI 0x${entry.spi.toString(16)} to this destination is already live`);
    }
    this.#byId.set(entry.id, entry);
    if (entry.direction === 'inbound') this.#bySpi.add(entry);
    if (entry.policyId !== undefined && entry.direction === 'outbound') push(this.#byPolicy, entry.policyId, entry);
  }

  /** Replaces an entry with the same id (e.g. a larval SA completed by UPDATE). */
  replace(entry: SadEntry): void {
    const old = this.#byId.get(entry.id);
    if (!old) throw new IpsecError('sad.notFound', `SA ${entry.id} is not in the SAD`);
    this.remove(entry.id);
    try {
      this.add(entry);
    } catch (e) {
      this.add(old); // all or nothing
      throw e;
    }
  }

  /** Removes an entry; false when there was none. */
  remove(id: string): boolean {
    const entry = this.#byId.get(id);
    if (!entry) return false;
    this.#byId.delete(id);
    if (entry.direction === 'inbound') this.#bySpi.remove(entry);
    if (entry.policyId !== undefined && entry.direction === 'outbound') pull(this.#byPolicy, entry.policyId, entry);
    return true;
  }

  /** The inbound entry for (SPI, destination, protocol), larval ones included. */
  findInbound(spi: number, dst: Uint8Array, protocol: IpsecProtocolName): SadEntry | undefined {
    return this.#bySpi.find(spi, dst, protocol);
  }

  /** The newest outbound SA of a policy (the one to send on), or undefined: an SA miss. */
  outboundFor(policyId: string): SadEntry | undefined {
    const list = this.#byPolicy.get(policyId);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.sa) return list[i];
    return undefined;
  }

  /** ESP lookup for `decapsulate` (bound; pass it as is). */
  readonly espLookup: SaLookup = (spi, dst, protocol) => {
    const sa = protocol === IPPROTO.ESP ? this.#bySpi.find(spi, dst, 'esp')?.sa : undefined;
    return sa instanceof EspSa ? sa : undefined;
  };

  /** AH or ESP lookup for `ahDecapsulate` / `openBundle` (bound). */
  readonly bundleLookup: BundleLookup = (spi, dst, protocol) => {
    const name = protocol === IPPROTO.ESP ? 'esp' : protocol === IPPROTO.AH ? 'ah' : undefined;
    return name ? this.#bySpi.find(spi, dst, name)?.sa : undefined;
  };

  /**
   * An SPI in `range` that no live inbound SA uses (RFC 4301 §4.1: unique for the receiver).
   * Random, so SPIs do not reveal how many SAs exist; linear probing from a random start once
   * a few random draws collide, so a nearly full range still finds the free ones. Throws
   * `IpsecError('sad.spiExhausted')` when every SPI in the range is taken.
   *
   * @example
   * const spi = sad.allocateSpi({ min: 0x1000, max: 0x1fff }, (n) => Math.floor(Math.random() * n));
   */
  allocateSpi(range: SpiRange, random: RandomInt): number {
    requireRange(Number.isInteger(range.min) && Number.isInteger(range.max) && range.min >= SPI_MIN && range.max <= SPI_MAX && range.min <= range.max, 'range', `must satisfy 256 <= min <= max <= 2^32-1, got 0x${range.min.toString(16)}..0x${range.max.toString(16)}`);
    const span = range.max - range.min + 1;
    for (let i = 0; i < 16; i++) {
      const spi = range.min + random(span);
      if (!this.#bySpi.hasSpi(spi)) return spi;
    }
    const start = random(span);
    for (let i = 0; i < span; i++) {
      const spi = range.min + ((start + i) % span);
      if (!this.#bySpi.hasSpi(spi)) return spi;
    }
    throw new IpsecError('sad.spiExhausted', `every SPI in 0x${range.min.toString(16)}..0x${range.max.toString(16)} is in use`);
  }
}

/** The data-path SA must agree with the entry it sits in. */
function checkDataPath(entry: SadEntry): void {
  const sa: DataPathSa = entry.sa!;
  const kind = sa instanceof EspSa ? 'esp' : sa instanceof AhSa ? 'ah' : undefined;
  requireRange(kind === entry.protocol, 'sa', `is not an ${entry.protocol.toUpperCase()} SA`);
  requireRange(sa.spi === entry.spi && sa.config.direction === entry.direction, 'sa', 'SPI and direction must match the entry');
}

function push<K>(map: Map<K, SadEntry[]>, key: K, entry: SadEntry): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

function pull<K>(map: Map<K, SadEntry[]>, key: K, entry: SadEntry): void {
  const list = map.get(key);
  if (!list) return;
  const i = list.indexOf(entry);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}
