/**
 * An in-memory `SadPort` over a Map: the twin the endpoint and socket tests run against, and a
 * stand-in until the host wires engine/sad's `Sad`. Usage counters are set by hand (`recordUse`).
 */

import { toHex } from '../bytes.js';
import type { PfKeyProtocol, PfKeySa, PfKeyUsage, RandomInt, SadPort, SadPortResult, SaKey } from './sadPort.js';

export interface MemorySadPort extends SadPort {
  /** Adds to an SA's usage as the data path would (first use stamps `firstUsedAtMs`). */
  recordUse(key: SaKey, packets: number, bytes: number, nowMs: number): void;
}

const keyString = (k: SaKey) => `${k.protocol}/${k.spi}/${toHex(k.dst)}`;

/**
 * A Map-based SAD port.
 *
 * @example
 * const sad = memorySadPort();
 * sad.add({ spi: 0x1000, protocol: 'esp', src, dst, state: 'larval', mode: 'tunnel', reqid: 0,
 *   replayWindow: 0, flags: 0, addedAtMs: 0 });
 */
export function memorySadPort(): MemorySadPort {
  const sas = new Map<string, PfKeySa>();
  const usage = new Map<string, PfKeyUsage>();
  const spisInUse = new Map<number, number>();
  const copy = (sa: PfKeySa): PfKeySa => ({ ...sa });

  return {
    allocateSpi(range: { min: number; max: number }, random: RandomInt): number | undefined {
      const span = range.max - range.min + 1;
      if (!(span > 0)) return undefined;
      for (let i = 0; i < 16; i++) {
        const spi = range.min + random(span);
        if (!spisInUse.has(spi)) return spi;
      }
      const start = random(span);
      for (let i = 0; i < span; i++) {
        const spi = range.min + ((start + i) % span);
        if (!spisInUse.has(spi)) return spi;
      }
      return undefined;
    },
    get(key: SaKey): PfKeySa | undefined {
      const sa = sas.get(keyString(key));
      return sa && copy(sa);
    },
    usage(key: SaKey): PfKeyUsage | undefined {
      const u = usage.get(keyString(key));
      return u && { ...u };
    },
    add(sa: PfKeySa): SadPortResult {
      const k = keyString(sa);
      if (sas.has(k)) return { ok: false, reason: 'exists', message: `SA ${k} exists` };
      sas.set(k, copy(sa));
      spisInUse.set(sa.spi, (spisInUse.get(sa.spi) ?? 0) + 1);
      return { ok: true };
    },
    replace(sa: PfKeySa): SadPortResult {
      const k = keyString(sa);
      if (!sas.has(k)) return { ok: false, reason: 'notFound', message: `no SA ${k}` };
      sas.set(k, copy(sa));
      return { ok: true };
    },
    remove(key: SaKey): boolean {
      const k = keyString(key);
      if (!sas.delete(k)) return false;
      usage.delete(k);
      const n = spisInUse.get(key.spi)! - 1;
      if (n === 0) spisInUse.delete(key.spi);
      else spisInUse.set(key.spi, n);
      return true;
    },
    list(protocol?: PfKeyProtocol): PfKeySa[] {
      return [...sas.values()].filter((sa) => protocol === undefined || sa.protocol === protocol).map(copy);
    },
    recordUse(key: SaKey, packets: number, bytes: number, nowMs: number): void {
      const k = keyString(key);
      if (!sas.has(k)) return;
      const u = usage.get(k) ?? { packets: 0, bytes: 0 };
      usage.set(k, { packets: u.packets + packets, bytes: u.bytes + bytes, firstUsedAtMs: u.firstUsedAtMs ?? nowMs });
    },
  };
}
