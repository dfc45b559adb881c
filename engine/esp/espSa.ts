import type { CryptoBackend } from '../crypto/backend.js';
import { createEspTransform } from '../crypto/espTransform.js';
import type { CryptoBackendName, EspKeys, EspSuiteSpec, EspTransform } from '../crypto/types.js';
import { requireRange } from '../errors.js';
import { REPLAY_WINDOW_DEFAULT, ReplayWindow, type ReplayState } from '../replay/replayWindow.js';
import { SequenceCounter } from '../sa/sequenceCounter.js';
import { validateSaCommon } from '../sa/validate.js';
import type { IpsecMode, NatTPorts, SaDirection, SaUsage, TunnelEndpoints } from '../sa/types.js';

/** Everything the ESP data path needs to know about one SA (RFC 4301 §4.4.2.1). */
export interface EspSaConfig {
  /** The aggregate id (`sa-<id>` stream); used to count drops per SA. */
  id: string;
  direction: SaDirection;
  /** RFC 4303 §2.1: 0 is reserved for local use and 1..255 by IANA, so 256..2^32-1. */
  spi: number;
  suite: EspSuiteSpec;
  keys: EspKeys;
  backend?: CryptoBackendName | CryptoBackend;
  mode: IpsecMode;
  /** Outer addresses; required in tunnel mode. Inbound SAs are looked up by `tunnel.dst`. */
  tunnel?: TunnelEndpoints;
  /** 64-bit extended sequence numbers (RFC 4303 §2.2.1). Default false. */
  esn?: boolean;
  /** Inbound anti-replay window: 0 (off, only when asked for) or 32..4096; default 128. */
  replayWindow?: number;
  /** RFC 3948 ESP-in-UDP with these ports. */
  natT?: NatTPorts;
  /** Outbound, tunnel mode: pad the inner packet with zeros up to this many octets (RFC 4303 §2.7 TFC). */
  tfcPadTo?: number;
  /** Outer TTL / Hop Limit in tunnel mode; default 64. */
  ttl?: number;
  /** Outbound: resume the sequence counter after this number (a restart, DESIGN §3). */
  sequenceStart?: { hi: number; lo: number };
  /** Inbound: resume the anti-replay window from a snapshot (a restart, or a rekeyed peer's state). */
  replayState?: ReplayState;
}

/**
 * The data-path state of one ESP SA: its prepared transform, its sender counter (outbound) or
 * replay window (inbound), and its usage. Mutable by design: `encapsulate`/`decapsulate` update
 * it per packet; the control plane reads `usage` and `seq` to checkpoint and expire it.
 */
export class EspSa {
  readonly transform: EspTransform;
  readonly esn: boolean;
  /** Outbound only. */
  readonly seq: SequenceCounter | undefined;
  /** Inbound only. */
  readonly replay: ReplayWindow | undefined;
  readonly usage: SaUsage = { packets: 0, bytes: 0 };

  constructor(readonly config: Readonly<EspSaConfig>) {
    validateSaCommon(config);
    if (config.natT) {
      for (const port of [config.natT.srcPort, config.natT.dstPort]) {
        requireRange(Number.isInteger(port) && port > 0 && port <= 0xffff, 'natT', `ports must be 1..65535, got ${port}`);
      }
    }
    requireRange(config.tfcPadTo === undefined || (Number.isInteger(config.tfcPadTo) && config.tfcPadTo >= 0 && config.tfcPadTo <= 0xffff), 'tfcPadTo', `must be an integer in 0..65535, got ${config.tfcPadTo}`);
    this.esn = config.esn ?? false;
    this.transform = createEspTransform(config.suite, config.keys, config.backend);
    if (config.direction === 'outbound') {
      this.seq = new SequenceCounter(this.esn, config.sequenceStart);
      this.replay = undefined;
    } else {
      this.seq = undefined;
      const size = config.replayWindow ?? REPLAY_WINDOW_DEFAULT;
      this.replay = config.replayState
        ? ReplayWindow.restore(size, this.esn, config.replayState)
        : ReplayWindow.create({ size, esn: this.esn });
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
 * Creates the data-path state of an ESP SA; throws a `RangeError` naming the argument on misuse
 * (a bad SPI, a 15-byte AES key, window 5000, ESN without a window, ESP without integrity).
 *
 * @example
 * const sa = createEspSa({ id: 'sa-1', direction: 'outbound', spi: 0x1001, mode: 'tunnel',
 *   tunnel: { src, dst }, suite: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE },
 *   keys: { encKey } });
 */
export function createEspSa(config: EspSaConfig): EspSa {
  return new EspSa(config);
}
