/**
 * Inbound SAs by (SPI, destination, protocol): an open-addressing hash table in a typed array
 * (linear probing from a Fibonacci hash of the SPI, backward-shift deletion, at most half
 * full). Each slot holds the SPI, a tag of the destination (an IPv4 address itself, a hash of
 * an IPv6 one) and the protocol, so a lookup reads one stretch of the table and the one entry
 * it returns — about two cache lines however many SAs there are — where a `Map` of entries
 * reads the map's buckets, the entry and its address. An IPv6 destination is compared exactly
 * on the entry whose tag matched. Several live SAs may share an SPI (RFC 4301 §4.1: an SA may be
 * keyed by SPI, destination and protocol together); they simply occupy several slots.
 */

import { readU32 } from '../bytes.js';
import type { IpsecProtocolName } from './types.js';

/** What the table keys on. `spi` ≥ 1 (0 marks an empty slot); `dst` is 4 or 16 octets. */
export interface SpiKeyed {
  readonly spi: number;
  readonly dst: Uint8Array;
  readonly protocol: IpsecProtocolName;
}

/** Words per slot: SPI (0 = empty), destination tag, meta (USED | AH | V6), unused. */
const STRIDE = 4;
const USED = 1;
const AH = 2;
const V6 = 4;
const MIN_BITS = 4;

function tagOf(dst: Uint8Array): number {
  if (dst.length === 4) return readU32(dst, 0);
  return (readU32(dst, 0) ^ Math.imul(readU32(dst, 4), 0x85ebca6b) ^ Math.imul(readU32(dst, 8), 0xc2b2ae35) ^ Math.imul(readU32(dst, 12), 0x27d4eb2f)) >>> 0;
}

function metaOf(dst: Uint8Array, protocol: IpsecProtocolName): number {
  return USED | (protocol === 'ah' ? AH : 0) | (dst.length === 16 ? V6 : 0);
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The table. It does not check uniqueness: the SAD refuses a second live SA with the same
 * (SPI, destination, protocol) before adding.
 *
 * @example
 * const t = new SpiTable<SadEntry>();
 * t.add(entry);
 * t.find(entry.spi, entry.dst, 'esp') === entry; // true
 * t.remove(entry);
 */
export class SpiTable<T extends SpiKeyed> {
  #bits = MIN_BITS;
  #slots = new Uint32Array(STRIDE << MIN_BITS);
  #refs: (T | undefined)[] = new Array<T | undefined>(1 << MIN_BITS).fill(undefined);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  #home(spi: number): number {
    return Math.imul(spi, 0x9e3779b1) >>> (32 - this.#bits);
  }

  /** The entry for (spi, dst, protocol), or undefined. Reads no entry but the one it returns. */
  find(spi: number, dst: Uint8Array, protocol: IpsecProtocolName): T | undefined {
    if (dst.length !== 4 && dst.length !== 16) return undefined;
    const slots = this.#slots;
    const mask = (1 << this.#bits) - 1;
    const tag = tagOf(dst);
    const meta = metaOf(dst, protocol);
    for (let i = this.#home(spi); ; i = (i + 1) & mask) {
      const at = i * STRIDE;
      const k = slots[at]!;
      if (k === 0) return undefined;
      if (k === spi && slots[at + 1] === tag && slots[at + 2] === meta) {
        const e = this.#refs[i]!;
        if ((meta & V6) === 0 || sameAddress(e.dst, dst)) return e;
      }
    }
  }

  /** True when some entry has this SPI (any destination or protocol). */
  hasSpi(spi: number): boolean {
    const mask = (1 << this.#bits) - 1;
    for (let i = this.#home(spi); ; i = (i + 1) & mask) {
      const k = this.#slots[i * STRIDE]!;
      if (k === 0) return false;
      if (k === spi) return true;
    }
  }

  add(e: T): void {
    if (2 * (this.#size + 1) > 1 << this.#bits) this.#grow();
    this.#place(e);
    this.#size++;
  }

  /** Removes this very entry (by identity); false when it is not in the table. */
  remove(e: T): boolean {
    const mask = (1 << this.#bits) - 1;
    const slots = this.#slots;
    let i = this.#home(e.spi);
    for (; ; i = (i + 1) & mask) {
      if (slots[i * STRIDE] === 0) return false;
      if (this.#refs[i] === e) break;
    }
    // Backward shift: move each later entry of the run into the hole when its home allows.
    for (let j = i; ; ) {
      j = (j + 1) & mask;
      const k = slots[j * STRIDE]!;
      if (k === 0) break;
      const h = this.#home(k);
      const stays = i <= j ? i < h && h <= j : i < h || h <= j;
      if (stays) continue;
      slots.copyWithin(i * STRIDE, j * STRIDE, j * STRIDE + STRIDE);
      this.#refs[i] = this.#refs[j];
      i = j;
    }
    slots.fill(0, i * STRIDE, i * STRIDE + STRIDE);
    this.#refs[i] = undefined;
    this.#size--;
    return true;
  }

  #place(e: T): void {
    const mask = (1 << this.#bits) - 1;
    let i = this.#home(e.spi);
    while (this.#slots[i * STRIDE] !== 0) i = (i + 1) & mask;
    this.#slots.set([e.spi, tagOf(e.dst), metaOf(e.dst, e.protocol)], i * STRIDE);
    this.#refs[i] = e;
  }

  #grow(): void {
    const old = this.#refs;
    this.#bits++;
    this.#slots = new Uint32Array(STRIDE << this.#bits);
    this.#refs = new Array<T | undefined>(1 << this.#bits).fill(undefined);
    for (const e of old) if (e !== undefined) this.#place(e);
  }
}
