/**
 * The PF_KEY endpoint's `SadPort` served by the real SAD (engine/sad): an SA keyed over PF_KEY
 * becomes a data-path `EspSa`/`AhSa` in the `Sad`, so `decapsulate(…, sad.espLookup)` finds it.
 * PF_KEY's own view of each SA (reqid, flags, the DYING state, use-time lifetimes) is kept beside
 * the SAD entry, keyed by (SPI, destination, protocol) for inbound and outbound SAs alike.
 */
import { createAhSa } from '../ah/ahSa.js';
import { toHex } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { INTEG } from '../crypto/transformIds.js';
import type { CryptoBackendName } from '../crypto/types.js';
import { IpsecError } from '../errors.js';
import { createEspSa } from '../esp/espSa.js';
import { REPLAY_WINDOW_MIN } from '../replay/replayWindow.js';
import type { Sad } from '../sad/sad.js';
import type { DataPathSa, SadEntry } from '../sad/types.js';
import { keyOf, toSaLifetimes, type PfKeyProtocol, type PfKeySa, type RandomInt, type SadPort, type SadPortResult, type SaKey } from './sadPort.js';

export interface SadAdapterOptions {
  sad: Sad;
  /** True for this gateway's own addresses: an SA to one of them is inbound (RFC 2367 leaves direction implicit). */
  isLocal: (address: Uint8Array) => boolean;
  backend?: CryptoBackendName | CryptoBackend;
}

const keyString = (k: SaKey) => `${k.protocol}/${k.spi.toString(16)}/${toHex(k.dst)}`;

/**
 * A `SadPort` over a `Sad`.
 *
 * @example
 * const sad = new Sad();
 * const endpoint = new PfKeyEndpoint({ sad: sadPfKeyPort({ sad, isLocal }), random });
 */
export function sadPfKeyPort(options: SadAdapterOptions): SadPort {
  const { sad } = options;
  /** PF_KEY's view and the SAD entry id, in insertion order (DUMP order). */
  const views = new Map<string, { view: PfKeySa; entryId: string }>();

  function entryFor(view: PfKeySa): SadEntry {
    const direction = options.isLocal(view.dst) ? 'inbound' : 'outbound';
    const id = `pfkey-${view.protocol}-${view.spi.toString(16)}-${toHex(view.dst)}`;
    return {
      id,
      spi: view.spi,
      protocol: view.protocol,
      direction,
      dst: view.dst,
      sa: view.state === 'larval' ? undefined : dataPathSa(view, id, direction, options.backend),
      lifetimes: toSaLifetimes(view),
      addedAtMs: view.addedAtMs,
      policyId: view.reqid ? `reqid-${view.reqid}` : undefined,
      statefulFragmentCheck: false,
      pathMtu: undefined,
    };
  }

  function attempt(run: () => void): SadPortResult {
    try {
      run();
      return { ok: true };
    } catch (e) {
      if (e instanceof IpsecError && e.code === 'sad.duplicate') return { ok: false, reason: 'exists', message: e.message };
      if (e instanceof RangeError || e instanceof TypeError || e instanceof IpsecError) return { ok: false, reason: 'rejected', message: e.message };
      throw e;
    }
  }

  return {
    allocateSpi(range: { min: number; max: number }, random: RandomInt): number | undefined {
      try {
        return sad.allocateSpi(range, random);
      } catch (e) {
        if (e instanceof IpsecError && e.code === 'sad.spiExhausted') return undefined;
        if (e instanceof RangeError) return undefined;
        throw e;
      }
    },
    get(key) {
      const v = views.get(keyString(key));
      return v && { ...v.view };
    },
    usage(key) {
      const v = views.get(keyString(key));
      const sa = v && sad.get(v.entryId)?.sa;
      return sa && { packets: sa.usage.packets, bytes: sa.usage.bytes };
    },
    add(view) {
      const k = keyString(keyOf(view));
      if (views.has(k)) return { ok: false, reason: 'exists', message: `an ${view.protocol.toUpperCase()} SA with SPI 0x${view.spi.toString(16)} to this destination exists` };
      return attempt(() => {
        const entry = entryFor(view);
        sad.add(entry);
        views.set(k, { view: { ...view }, entryId: entry.id });
      });
    },
    replace(view) {
      const k = keyString(keyOf(view));
      const old = views.get(k);
      if (!old) return { ok: false, reason: 'notFound', message: `no ${view.protocol.toUpperCase()} SA with SPI 0x${view.spi.toString(16)} to this destination` };
      return attempt(() => {
        const entry = entryFor(view);
        // A DYING mark or new lifetimes keep the data-path SA (its counters and window live on).
        const kept = old.view.state !== 'larval' && view.state !== 'larval' ? sad.get(old.entryId)?.sa : undefined;
        sad.replace(kept ? { ...entry, sa: kept } : entry);
        views.set(k, { view: { ...view }, entryId: entry.id });
      });
    },
    remove(key) {
      const k = keyString(key);
      const v = views.get(k);
      if (!v) return false;
      sad.remove(v.entryId);
      views.delete(k);
      return true;
    },
    list(protocol?: PfKeyProtocol) {
      return [...views.values()].filter((v) => protocol === undefined || v.view.protocol === protocol).map((v) => ({ ...v.view }));
    },
  };
}

/** The data-path SA for a keyed PF_KEY SA. RangeErrors (a wrong key length, ...) become `rejected`. */
function dataPathSa(view: PfKeySa, id: string, direction: 'inbound' | 'outbound', backend: CryptoBackendName | CryptoBackend | undefined): DataPathSa {
  // sadb_sa_replay may be 1..31, below RFC 4303 §3.4.3's minimum of 32: round up, never down.
  const replayWindow = view.replayWindow === 0 ? 0 : Math.max(REPLAY_WINDOW_MIN, view.replayWindow);
  const common = {
    id,
    direction,
    spi: view.spi,
    mode: view.mode,
    ...(view.mode === 'tunnel' ? { tunnel: { src: view.src, dst: view.dst } } : {}),
    replayWindow,
    ...(backend ? { backend } : {}),
  };
  if (view.protocol === 'ah') {
    if (!view.integ) throw new RangeError('integ: an AH SA needs an authentication algorithm and key');
    return createAhSa({ ...common, integ: view.integ.transform, key: view.integ.key });
  }
  if (!view.encr) throw new RangeError('encr: an ESP SA needs an encryption algorithm (NULL included)');
  return createEspSa({
    ...common,
    suite: { encr: view.encr.transform, encrKeyBits: view.encr.keyBits, integ: view.integ?.transform ?? INTEG.NONE },
    keys: { encKey: view.encr.key, ...(view.integ ? { integKey: view.integ.key } : {}) },
    ...(view.natT ? { natT: { srcPort: view.natT.srcPort, dstPort: view.natT.dstPort } } : {}),
  });
}
