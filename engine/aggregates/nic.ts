/**
 * The offload NIC aggregate, stream `nic-<name>`: which SAs the gateway put on one NIC under
 * which handle, which it kept in software and why. Capacity is a per-NIC resource, so the
 * decisions about it live here, in one place, with the facts they fold (DESIGN §3).
 */
import { IpsecError } from '../errors.js';
import { fact, type CommandContext } from '../events/fact.js';
import type { NicFact } from '../events/otherFacts.js';
import type { SaParams } from '../events/saFacts.js';

/**
 * What a NIC declares it can offload, after NDIS `NDIS_IPSEC_OFFLOAD_V2` (Esp, Ah,
 * AhEspCombined, Transport, Tunnel, TransportTunnelCombined, UdpEsp, IPv6Supported, IPv4Options,
 * LsoSupported, ExtendedSequenceNumbers, the algorithm sets, SaOffloadCapacity). Algorithms are
 * IKEv2 transform ids (RFC 7296 §3.3.2), as the engine's suites are. JSON-safe.
 */
export interface NicCapabilities {
  /** ESP encryption transforms (Transform Type 1) the NIC offloads. */
  encryption: readonly number[];
  /** AES key sizes in bits offloaded for the AES-based transforms. */
  aesKeyBits: readonly number[];
  /** Integrity transforms (Transform Type 3); `INTEG.NONE` (0) goes with the combined modes. */
  integrity: readonly number[];
  modes: 'transport' | 'tunnel' | 'both';
  /** A transport-mode SA inside a tunnel-mode SA processed in one pass (NDIS TransportTunnelCombined). */
  transportTunnelCombined: boolean;
  esp: boolean;
  ah: boolean;
  ahEspCombined: boolean;
  /** RFC 3948 UDP-encapsulated ESP. */
  udpEsp: boolean;
  ipv6: boolean;
  /** Offload of IPv4 packets that carry options (IHL > 5). */
  ipv4Options: boolean;
  /** Large send (LSO) combined with IPsec offload. */
  largeSend: boolean;
  /** 64-bit sequence numbers (RFC 4303 §2.2.1). */
  extendedSequenceNumbers: boolean;
  /** How many SAs the NIC holds at once (both directions count). */
  saOffloadCapacity: number;
}

/** Why an SA stays in software (the same reasons as `SaOffloadRejected`). */
export type NicRejectReason = 'unsupported' | 'capacity' | 'fips' | 'untrusted' | 'error';
/** Why a handle is gone (see `NicFact`). */
export type NicRemovalReason = 'withdrawn' | 'lost' | 'restart' | 'retired';

/** The gateway's offload policy for a NIC: configuration, not facts. */
export interface OffloadPolicy {
  /** FIPS mode: only the validated software module does crypto, so nothing is offloaded. */
  fipsMode: boolean;
  /** Whether this NIC may hold keys at all (a per-NIC trust setting). */
  trusted: boolean;
}

/**
 * The folded stream `nic-<name>`.
 *
 * @example
 * const state = facts.reduce(evolveNic, initialNicState); Object.keys(state.offloaded).length
 */
export interface NicState {
  /** `none` until the capabilities are declared; `retired` is final. */
  status: 'none' | 'active' | 'retired';
  version: number;
  capabilities?: NicCapabilities;
  saCapacity: number;
  /** SAs on the NIC by SA id, as the log says. */
  offloaded: Readonly<Record<string, { handle: number; at: string }>>;
  /** Rejections counted by reason. */
  rejections: Readonly<Partial<Record<NicRejectReason, number>>>;
  lastAt?: string;
}

/**
 * A NIC never seen: nothing declared, nothing offloaded.
 *
 * @example
 * decideNic({ type: 'StartNic', capabilities }, initialNicState, ctx)
 */
export const initialNicState: NicState = { status: 'none', version: 0, saCapacity: 0, offloaded: {}, rejections: {} };

/** What the offload actor asks of the aggregate. */
export type NicCommand =
  /** The actor started and reset the NIC: declare what it can do, abandon the old handles. */
  | { type: 'StartNic'; capabilities: NicCapabilities }
  | { type: 'OfferSa'; saId: string; params: SaParams; policy: OffloadPolicy }
  | { type: 'RecordSaAdded'; saId: string; handle: number }
  | { type: 'RejectSa'; saId: string; reason: NicRejectReason }
  | { type: 'WithdrawSa'; saId: string }
  | { type: 'ReportSaLost'; handle: number }
  | { type: 'RetireNic' };

/**
 * A command the NIC's state does not allow; nothing was decided.
 *
 * @example
 * try { decideNic(command, state, ctx); } catch (e) { if (e instanceof NicRuleViolation) log(e.message); }
 */
export class NicRuleViolation extends IpsecError {
  constructor(command: NicCommand['type'], status: NicState['status'], rule: string) {
    super('nic.ruleViolation', `${command} is not allowed while the NIC is ${status}: ${rule}`);
    this.name = 'NicRuleViolation';
  }
}

/** What an SA needs from a NIC, read from its parameters. */
export interface OffloadNeeds {
  protocol: 'esp' | 'ah';
  mode: 'transport' | 'tunnel';
  encr?: number;
  encrKeyBits?: number;
  integ: number;
  esn: boolean;
  natT: boolean;
  ipv6: boolean;
}

/** AES-CBC, AES-CTR, AES-GCM and AES-GMAC (RFC 3602, 3686, 4106, 4543) take an AES key size. */
const AES_TRANSFORMS: readonly number[] = [12, 13, 20, 21];

/**
 * What an SA with these parameters needs from a NIC.
 *
 * @example
 * needsOf(params) // { protocol: 'esp', mode: 'tunnel', encr: 20, encrKeyBits: 128, integ: 0, ... }
 */
export function needsOf(params: SaParams): OffloadNeeds {
  const ipv6 = [params.dst, params.tunnel?.src, params.tunnel?.dst].some((a) => a?.includes(':'));
  return {
    protocol: params.protocol, mode: params.mode, integ: params.integ, esn: params.esn, natT: params.natT !== undefined, ipv6,
    ...(params.encr !== undefined ? { encr: params.encr } : {}),
    ...(params.encrKeyBits !== undefined ? { encrKeyBits: params.encrKeyBits } : {}),
  };
}

/**
 * The first thing an SA needs that the NIC does not declare, or undefined when it has it all.
 *
 * @example
 * capabilityGap(caps, needs) // 'encr 13' when AES-CTR is not offloaded
 */
export function capabilityGap(caps: NicCapabilities, needs: OffloadNeeds): string | undefined {
  if (needs.protocol === 'ah' ? !caps.ah : !caps.esp) return needs.protocol;
  if (caps.modes !== 'both' && caps.modes !== needs.mode) return `mode ${needs.mode}`;
  if (needs.protocol === 'esp') {
    if (needs.encr === undefined || !caps.encryption.includes(needs.encr)) return `encr ${needs.encr}`;
    if (AES_TRANSFORMS.includes(needs.encr) && !caps.aesKeyBits.includes(needs.encrKeyBits ?? 0)) return `aes-${needs.encrKeyBits}`;
  }
  if (needs.integ !== 0 && !caps.integrity.includes(needs.integ)) return `integ ${needs.integ}`;
  if (needs.esn && !caps.extendedSequenceNumbers) return 'esn';
  if (needs.natT && !caps.udpEsp) return 'udpEsp';
  if (needs.ipv6 && !caps.ipv6) return 'ipv6';
  return undefined;
}

/**
 * Why an offered SA stays in software, or undefined when it goes to the NIC: FIPS mode first
 * (no key leaves the validated module), then trust, then the declared capabilities, then the
 * free capacity the log shows. The NIC still has the last word on ADD_SA.
 *
 * @example
 * offloadVerdict(params, state, { fipsMode: false, trusted: true }) // 'capacity' when full
 */
export function offloadVerdict(params: SaParams, state: NicState, policy: OffloadPolicy): NicRejectReason | undefined {
  if (policy.fipsMode) return 'fips';
  if (!policy.trusted) return 'untrusted';
  if (state.capabilities === undefined || capabilityGap(state.capabilities, needsOf(params)) !== undefined) return 'unsupported';
  if (Object.keys(state.offloaded).length >= state.saCapacity) return 'capacity';
  return undefined;
}

/**
 * Decides what a command means for the NIC: the facts to record, or a `NicRuleViolation`.
 * Pure. Repeats record nothing: a second withdraw, an offer of an SA already on the NIC.
 *
 * @example
 * const facts = decideNic({ type: 'WithdrawSa', saId: 'a1' }, state, ctx);
 */
export function decideNic(command: NicCommand, state: NicState, ctx: CommandContext): NicFact[] {
  const violation = (rule: string) => new NicRuleViolation(command.type, state.status, rule);
  const removeAll = (reason: NicRemovalReason) =>
    Object.entries(state.offloaded).map(([saId, o]) => fact('NicSaRemoved', { saId, handle: o.handle, reason }, ctx));
  if (state.status === 'retired' && command.type !== 'RetireNic') throw violation('a retired NIC takes no more SAs');
  switch (command.type) {
    case 'StartNic': {
      const caps = command.capabilities;
      const same = JSON.stringify(state.capabilities) === JSON.stringify(caps);
      // The NIC was reset on start: whatever the log says it held is gone.
      const removals = removeAll('restart');
      return same ? removals : [fact('NicCapabilitiesDeclared', { capabilities: caps, saCapacity: caps.saOffloadCapacity }, ctx), ...removals];
    }
    case 'OfferSa': {
      if (state.offloaded[command.saId]) return [];
      const reason = offloadVerdict(command.params, state, command.policy);
      return reason ? [fact('NicSaRejected', { saId: command.saId, reason }, ctx)] : [];
    }
    case 'RecordSaAdded': {
      if (state.status !== 'active') throw violation('the NIC has not declared its capabilities');
      const there = state.offloaded[command.saId];
      if (there?.handle === command.handle) return [];
      if (there) throw violation(`${command.saId} is already on the NIC as handle ${there.handle}`);
      const holder = Object.entries(state.offloaded).find(([, o]) => o.handle === command.handle);
      if (holder) throw violation(`handle ${command.handle} belongs to ${holder[0]}`);
      return [fact('NicSaAdded', { saId: command.saId, handle: command.handle }, ctx)];
    }
    case 'RejectSa':
      if (state.offloaded[command.saId]) throw violation(`${command.saId} is on the NIC; withdraw it instead`);
      return [fact('NicSaRejected', { saId: command.saId, reason: command.reason }, ctx)];
    case 'WithdrawSa': {
      const there = state.offloaded[command.saId];
      return there ? [fact('NicSaRemoved', { saId: command.saId, handle: there.handle, reason: 'withdrawn' as const }, ctx)] : [];
    }
    case 'ReportSaLost': {
      const holder = Object.entries(state.offloaded).find(([, o]) => o.handle === command.handle);
      return holder ? [fact('NicSaRemoved', { saId: holder[0], handle: command.handle, reason: 'lost' as const }, ctx)] : [];
    }
    case 'RetireNic':
      if (state.status === 'retired') return [];
      return [...removeAll('retired'), fact('NicRetired', {}, ctx)];
  }
}

/**
 * Folds one fact into the state. Pure and total: an unknown fact type only advances the version.
 *
 * @example
 * const state = facts.reduce(evolveNic, initialNicState);
 */
export function evolveNic(state: NicState, f: NicFact): NicState {
  const at = f.meta.at;
  const next: NicState = { ...state, version: state.version + 1, lastAt: at };
  switch (f.type) {
    case 'NicCapabilitiesDeclared':
      return { ...next, status: 'active', capabilities: f.data.capabilities as NicCapabilities, saCapacity: f.data.saCapacity };
    case 'NicSaAdded':
      return { ...next, offloaded: { ...state.offloaded, [f.data.saId]: { handle: f.data.handle, at } } };
    case 'NicSaRemoved': {
      const { [f.data.saId]: _gone, ...offloaded } = state.offloaded;
      return { ...next, offloaded };
    }
    case 'NicSaRejected':
      return { ...next, rejections: { ...state.rejections, [f.data.reason]: (state.rejections[f.data.reason] ?? 0) + 1 } };
    case 'NicRetired':
      return { ...next, status: 'retired' };
    default:
      return next;
  }
}
