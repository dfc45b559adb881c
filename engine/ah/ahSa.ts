import type { CryptoBackend } from '../crypto/backend.js';
import { createIntegrity } from '../crypto/integrity.js';
import { integSpec } from '../crypto/suites.js';
import type { IntegId } from '../crypto/transformIds.js';
import type { CryptoBackendName, Integrity } from '../crypto/types.js';
import { requireRange } from '../errors.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import { REPLAY_WINDOW_DEFAULT, REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN, ReplayWindow, type ReplayState } from '../replay/replayWindow.js';
import { SequenceCounter } from '../sa/sequenceCounter.js';
import { validateSaCommon } from '../sa/validate.js';
import type { IpsecMode, SaDirection, SaUsage, TunnelEndpoints } from '../sa/types.js';

/** Everything the AH data path needs to know about one SA (RFC 4301 §4.4.2.1, RFC 4302). */
export interface AhSaConfig {
  /** The aggregate id (`sa-<id>` stream); used to count drops per SA. */
  id: string;
  direction: SaDirection;
  /** RFC 4302 §2.4: 0 is reserved for local use and 1..255 by IANA, so 256..2^32-1. */
  spi: number;
  /** An HMAC integrity transform (RFC 4302 §3.2, RFC 7321 §3): `INTEG.HMAC_*`, never NONE. */
  integ: IntegId;
  /** The integrity key, exactly the hash's output size (RFC 2403 §3, RFC 2404 §3, RFC 4868 §2.1.1). */
  key: Uint8Array;
  backend?: CryptoBackendName | CryptoBackend;
  mode: IpsecMode;
  /** Outer addresses; required in tunnel mode. Inbound SAs are looked up by `tunnel.dst`. */
  tunnel?: TunnelEndpoints;
  /** 64-bit extended sequence numbers (RFC 4302 §2.5.1). Default false. */
  esn?: boolean;
  /** Inbound anti-replay window: 0 (off, only when asked for) or 32..4096; default 128. */
  replayWindow?: number;
  /** Outer TTL / Hop Limit in tunnel mode; default 64. */
  ttl?: number;
  /**
   * Outbound over IPv4: pad AH to a multiple of this many octets. 4 (default) is RFC 4302
   * §3.3.3.2.1, which prohibits "padding in excess of the minimum amount required". 8 is for
   * Linux peers, which pad IPv4 AH to 64 bits and drop anything else unless their SA has the
   * `align4` flag: it matters only for 16-octet ICVs (HMAC-SHA2-256-128). IPv6 is always 8 (§2.6).
   */
  ipv4Align?: 4 | 8;
  /** Outbound: resume the sequence counter after this number (a restart, DESIGN §3). */
  sequenceStart?: { hi: number; lo: number };
  /** Inbound: resume the anti-replay window from a snapshot (a restart, or a rekeyed peer's state). */
  replayState?: ReplayState;
}

/**
 * The data-path state of one AH SA: its prepared integrity transform, its sender counter
 * (outbound) or replay window (inbound), and its usage. Mutable by design, like `EspSa`:
 * `ahEncapsulate`/`ahDecapsulate` update it per packet. `protocol`, `id` and `spi` let an SA
 * bundle hold AH and ESP SAs side by side.
 */
export class AhSa {
  /** IP protocol number of AH (RFC 4302 §2). */
  readonly protocol = IPPROTO.AH;
  readonly integrity: Integrity;
  readonly esn: boolean;
  /** Outbound only. */
  readonly seq: SequenceCounter | undefined;
  /** Inbound only. */
  readonly replay: ReplayWindow | undefined;
  readonly usage: SaUsage = { packets: 0, bytes: 0 };

  constructor(readonly config: Readonly<AhSaConfig>) {
    validateSaCommon(config);
    // integSpec throws `integ: ...` for NONE and anything unknown: AH exists for its ICV.
    const spec = integSpec(config.integ);
    if (!(config.key instanceof Uint8Array)) throw new TypeError(`key: must be a Uint8Array`);
    requireRange(config.key.length === spec.keyLength, 'key', `must be ${spec.keyLength} bytes for ${spec.name}, got ${config.key.length}`);
    requireRange(config.ipv4Align === undefined || config.ipv4Align === 4 || config.ipv4Align === 8, 'ipv4Align', `must be 4 or 8, got ${config.ipv4Align}`);
    this.esn = config.esn ?? false;
    this.integrity = createIntegrity(config.integ, config.key, config.backend);
    if (config.direction === 'outbound') {
      this.seq = new SequenceCounter(this.esn, config.sequenceStart);
      this.replay = undefined;
    } else {
      const size = config.replayWindow ?? REPLAY_WINDOW_DEFAULT;
      requireRange(size === 0 || (Number.isInteger(size) && size >= REPLAY_WINDOW_MIN && size <= REPLAY_WINDOW_MAX), 'replayWindow', `must be 0 or an integer in ${REPLAY_WINDOW_MIN}..${REPLAY_WINDOW_MAX}, got ${size}`);
      // RFC 4302 App. B2: the high bits are inferred from the window, so ESN needs one.
      requireRange(!(size === 0 && this.esn), 'esn', 'needs an anti-replay window (replayWindow > 0)');
      this.seq = undefined;
      this.replay = config.replayState ? ReplayWindow.restore(size, this.esn, config.replayState) : ReplayWindow.create({ size, esn: this.esn });
    }
  }

  get id(): string {
    return this.config.id;
  }

  get spi(): number {
    return this.config.spi;
  }
}

/**
 * Creates the data-path state of an AH SA; throws a `RangeError` naming the argument on misuse
 * (a bad SPI, a 15-byte HMAC-SHA1 key, window 5000, ESN without a window, `INTEG.NONE`).
 *
 * @example
 * const sa = createAhSa({ id: 'sa-1', direction: 'outbound', spi: 0x2001, mode: 'transport',
 *   integ: INTEG.HMAC_SHA2_256_128, key: key32 });
 */
export function createAhSa(config: AhSaConfig): AhSa {
  return new AhSa(config);
}
