/**
 * Between the policy document and the SPD's types (engine/spd/types.ts): `toPolicies` applies
 * the format's defaults and orients tunnel endpoints per direction; `fromPolicies` writes
 * policies back as `<ipsec-ikeless>` entries, so `toPolicies(fromPolicies(ps))` gives `ps`
 * again (up to an ANY ICMP/MH selector, which the file leaves out, and the key size of a
 * single-size cipher, which a suite name implies).
 */
import { fromHex } from '../bytes.js';
import type { EspSuiteSpec } from '../crypto/types.js';
import type { IntegId } from '../crypto/transformIds.js';
import type { IpsecMode, NatTPorts, SaDirection, TunnelEndpoints } from '../sa/types.js';
import type { SaLifetimes } from '../sad/types.js';
import type { AddressSelector, LifetimeLimits, Policy, ProtectParams, Selector } from '../spd/types.js';
import { formatIpAddress, parseIpAddress } from './ipText.js';
import {
  POLICY_DEFAULTS,
  type AddressDoc,
  type ConnEntryDoc,
  type IpsecPolicyConfigDoc,
  type IpsecSaCfgDoc,
  type KeyDoc,
  type LifetimeDoc,
  type PolicyDocument,
  type SpdEntryDoc,
  type TrafficSelectorDoc,
  type TunnelDoc,
} from './model.js';
import { NAME_PATTERN } from './parseContext.js';
import { ahIntegByName, ahIntegName, espSuiteByName, espSuiteName } from './suiteNames.js';

function bytes(text: string, what: string): Uint8Array {
  const a = parseIpAddress(text);
  if (!a.ok) throw new RangeError(`${what}: ${a.rule}`);
  return a.value;
}

function addressSelector(a: AddressDoc, what: string): AddressSelector {
  switch (a.kind) {
    case 'any':
    case 'opaque':
      return { kind: a.kind };
    case 'single':
      return { kind: 'single', address: bytes(a.address, what) };
    case 'prefix':
      return { kind: 'prefix', address: bytes(a.address, what), length: a.length };
    case 'range':
      return { kind: 'range', from: bytes(a.from, what), to: bytes(a.to, what) };
  }
}

function selector(ts: TrafficSelectorDoc, what: string): Selector {
  const s: Selector = {
    localAddress: addressSelector(ts.local, `${what}.local`),
    remoteAddress: addressSelector(ts.remote, `${what}.remote`),
    protocol: ts.innerProtocol ?? { kind: 'any' },
    localPort: ts.localPorts ?? { kind: 'any' },
    remotePort: ts.remotePorts ?? { kind: 'any' },
  };
  if (ts.icmp) s.icmp = ts.icmp;
  if (ts.mhType) s.mhType = ts.mhType;
  return s;
}

function limits(l: LifetimeDoc | undefined): LifetimeLimits {
  const out: LifetimeLimits = {};
  if (l?.timeMs !== undefined) out.timeMs = l.timeMs;
  if (l?.bytes !== undefined) out.bytes = l.bytes;
  if (l?.packets !== undefined) out.packets = l.packets;
  return out;
}

/** Outer header addresses in the direction of travel: outbound leaves from `local`. */
function oriented(t: TunnelDoc, direction: SaDirection, what: string): TunnelEndpoints {
  const local = bytes(t.local, `${what}.tunnel.local`);
  const remote = bytes(t.remote, `${what}.tunnel.remote`);
  return direction === 'outbound' ? { src: local, dst: remote } : { src: remote, dst: local };
}

function protect(config: IpsecPolicyConfigDoc, cfg: IpsecSaCfgDoc, direction: SaDirection, tunnel: TunnelDoc | undefined, what: string): ProtectParams {
  const mode: IpsecMode = cfg.mode ?? POLICY_DEFAULTS.mode;
  const common = {
    mode,
    ...(mode === 'tunnel' && tunnel ? { tunnel: oriented(tunnel, direction, what) } : {}),
    lifetimes: { soft: limits(cfg.saLifetimeSoft), hard: limits(cfg.saLifetimeHard) },
    replayWindow: config.antiReplayWindowSize ?? POLICY_DEFAULTS.antiReplayWindowSize,
    esn: cfg.extSeqNum ?? POLICY_DEFAULTS.extSeqNum,
    offload: cfg.offload ?? POLICY_DEFAULTS.offload,
    ...(cfg.negotiationShunt ? { negotiationShunt: cfg.negotiationShunt } : {}),
    ...(cfg.natTraversal !== undefined ? { natT: cfg.natTraversal } : {}),
  };
  if ((cfg.protocolParameters ?? 'esp') === 'ah') {
    return {
      ...common,
      protocol: 'ah',
      proposals: cfg.algorithms.map((n) => {
        const id = ahIntegByName(n);
        if (id === undefined) throw new RangeError(`${what}.algorithms: unknown AH integrity algorithm '${n}'`);
        return id;
      }),
    };
  }
  return {
    ...common,
    protocol: 'esp',
    proposals: cfg.algorithms.map((n) => {
      const info = espSuiteByName(n);
      if (!info) throw new RangeError(`${what}.algorithms: unknown suite '${n}'`);
      return { ...info.spec };
    }),
  };
}

function policy(
  id: string,
  direction: SaDirection,
  entry: { priority?: number; config: IpsecPolicyConfigDoc },
  tunnel: TunnelDoc | undefined,
  what: string,
): Policy {
  const { config } = entry;
  const p: Policy = {
    id,
    priority: entry.priority ?? 0,
    direction,
    selectors: config.trafficSelectors.map((ts, i) => selector(ts, `${what}.trafficSelectors[${i}]`)),
    action: config.action,
  };
  if (config.action === 'protect') {
    if (!config.ipsecSaCfg) throw new RangeError(`${what}: action protect needs ipsecSaCfg`);
    p.protect = protect(config, config.ipsecSaCfg, direction, tunnel, what);
  }
  return p;
}

/** A conn-entry's tunnel: the entry's own, else the connection's addresses. */
function connTunnel(c: ConnEntryDoc, cfg: IpsecSaCfgDoc | undefined): TunnelDoc | undefined {
  if (cfg?.tunnel) return cfg.tunnel;
  if (c.remote.address === 'any') return undefined;
  return { local: c.local.address, remote: c.remote.address };
}

/**
 * The SPD entries a document describes, in file order: `<ipsec-ikeless>` entries under their
 * names, then each connection's entries twice, `<name>:out` and `<name>:in`, as IKE installs
 * them (RFC 9061 `ietf-i2nsf-ike`). Defaults applied: priority 0, transport mode, ESP, replay
 * window 64, no ESN, no offload. RangeError naming the field on a value no parse would give.
 *
 * @example
 * const r = parsePolicyXml(text, 'site.xml');
 * if (r.ok) for (const p of toPolicies(r.doc)) spd.add(p);
 */
export function toPolicies(doc: PolicyDocument): Policy[] {
  const out = doc.spd.map((e, i) => policy(e.name, e.direction, e, e.config.ipsecSaCfg?.tunnel, `spd[${i}]`));
  doc.connections.forEach((c, ci) => {
    c.spd.forEach((e, ei) => {
      const tunnel = connTunnel(c, e.config.ipsecSaCfg);
      const what = `connections[${ci}].spd[${ei}]`;
      out.push(policy(`${e.name}:out`, 'outbound', e, tunnel, what), policy(`${e.name}:in`, 'inbound', e, tunnel, what));
    });
  });
  return out;
}

function addressDoc(a: AddressSelector, what: string): AddressDoc {
  const text = (b: Uint8Array): string => {
    if (b.length !== 4 && b.length !== 16) throw new RangeError(`${what}: an address must be 4 or 16 octets, got ${b.length}`);
    return formatIpAddress(b);
  };
  switch (a.kind) {
    case 'any':
    case 'opaque':
      return { kind: a.kind };
    case 'single':
      return { kind: 'single', address: text(a.address) };
    case 'prefix':
      return { kind: 'prefix', address: text(a.address), length: a.length };
    case 'range':
      return { kind: 'range', from: text(a.from), to: text(a.to) };
  }
}

function selectorDoc(s: Selector, what: string): TrafficSelectorDoc {
  const ts: TrafficSelectorDoc = {
    local: addressDoc(s.localAddress, `${what}.localAddress`),
    remote: addressDoc(s.remoteAddress, `${what}.remoteAddress`),
    innerProtocol: s.protocol,
  };
  if (s.localPort.kind !== 'any') ts.localPorts = s.localPort;
  if (s.remotePort.kind !== 'any') ts.remotePorts = s.remotePort;
  if (s.icmp && s.icmp.kind !== 'any') ts.icmp = s.icmp;
  if (s.mhType && s.mhType.kind !== 'any') ts.mhType = s.mhType;
  return ts;
}

function lifetimeDoc(l: LifetimeLimits): LifetimeDoc | undefined {
  const out: LifetimeDoc = {};
  if (l.timeMs !== undefined) out.timeMs = l.timeMs;
  if (l.bytes !== undefined) out.bytes = l.bytes;
  if (l.packets !== undefined) out.packets = l.packets;
  return Object.keys(out).length > 0 ? out : undefined;
}

function saCfgDoc(p: ProtectParams, direction: SaDirection): IpsecSaCfgDoc {
  const cfg: IpsecSaCfgDoc = {
    extSeqNum: p.esn,
    mode: p.mode,
    protocolParameters: p.protocol,
    algorithms: p.protocol === 'esp' ? p.proposals.map((s) => espSuiteName(s)) : p.proposals.map((i) => ahIntegName(i)),
    offload: p.offload,
  };
  if (p.tunnel) {
    const { src, dst } = p.tunnel;
    cfg.tunnel = direction === 'outbound'
      ? { local: formatIpAddress(src), remote: formatIpAddress(dst) }
      : { local: formatIpAddress(dst), remote: formatIpAddress(src) };
  }
  const soft = lifetimeDoc(p.lifetimes.soft);
  const hard = lifetimeDoc(p.lifetimes.hard);
  if (soft) cfg.saLifetimeSoft = soft;
  if (hard) cfg.saLifetimeHard = hard;
  if (p.negotiationShunt) cfg.negotiationShunt = p.negotiationShunt;
  if (p.natT !== undefined) cfg.natTraversal = p.natT;
  return cfg;
}

/**
 * A document holding `policies` as `<ipsec-ikeless>` SPD entries, in the given order (the
 * SPD's insertion order among equal priorities). RangeError naming the policy when an id is
 * not a valid entry name or a suite has no name.
 *
 * @example
 * await writeFile('spd.xml', serializePolicyXml(fromPolicies(spd.list(), { defaultAction: 'discard' })));
 */
export function fromPolicies(policies: readonly Policy[], options: { defaultAction?: 'bypass' | 'discard' } = {}): PolicyDocument {
  const spd = policies.map((p, i): SpdEntryDoc => {
    const what = `policies[${i}]`;
    if (!NAME_PATTERN.test(p.id)) throw new RangeError(`${what}.id: '${p.id}' is not a valid spd-entry name`);
    if (p.selectors.length === 0) throw new RangeError(`${what}.selectors: a policy needs at least one selector set`);
    const config: IpsecPolicyConfigDoc = {
      trafficSelectors: p.selectors.map((s, j) => selectorDoc(s, `${what}.selectors[${j}]`)),
      action: p.action,
    };
    if (p.action === 'protect') {
      if (!p.protect) throw new RangeError(`${what}.protect: required when action is protect`);
      config.antiReplayWindowSize = p.protect.replayWindow;
      config.ipsecSaCfg = saCfgDoc(p.protect, p.direction);
    }
    const entry: SpdEntryDoc = { name: p.id, direction: p.direction, config };
    if (p.priority !== 0) entry.priority = p.priority;
    return entry;
  });
  const doc: PolicyDocument = { spd, sad: [], pad: [], connections: [] };
  if (options.defaultAction) doc.defaultAction = options.defaultAction;
  return doc;
}

/** Key material of a static SA: the bytes from the file, or the reference to resolve. */
export type KeyMaterial = { bytes: Uint8Array } | { ref: string };

/**
 * A static SA from `<sad-entry>`, with defaults applied and endpoints oriented, ready to
 * become an `EspSaConfig`/`AhSaConfig` once any key references are resolved.
 */
export type StaticSaSpec = {
  id: string;
  spi: number;
  direction: SaDirection;
  /** Inbound: the address packets arrive to; outbound: the peer (SAD lookup key with the SPI). */
  dst: Uint8Array;
  mode: IpsecMode;
  tunnel?: TunnelEndpoints;
  esn: boolean;
  /** Inbound only. */
  replayWindow?: number;
  lifetimes: SaLifetimes;
  natT?: NatTPorts;
  /** Outbound: resume after this sequence number, split as `SequenceCounter` takes it. */
  sequenceStart?: { hi: number; lo: number };
  /** RFC 9061 reqid: ties it to its spd-entry, and an inbound and an outbound SA into one pair. */
  reqid?: number;
  /** The spd-entry its reqid links to. */
  policyId?: string;
  selector?: Selector;
  integrityKey?: KeyMaterial;
} & ({ protocol: 'esp'; suite: EspSuiteSpec; encryptionKey?: KeyMaterial } | { protocol: 'ah'; integ: IntegId });

const material = (k: KeyDoc | undefined): KeyMaterial | undefined =>
  k === undefined ? undefined : 'hex' in k ? { bytes: fromHex(k.hex) } : { ref: k.ref };

/**
 * The static SAs of a document's `<sad>`.
 *
 * @example
 * for (const sa of toStaticSas(doc)) if (sa.protocol === 'esp') sad.add(buildEspSa(sa, resolveKeys));
 */
export function toStaticSas(doc: PolicyDocument): StaticSaSpec[] {
  return doc.sad.map((e, i) => {
    const what = `sad[${i}]`;
    const mode = e.mode ?? POLICY_DEFAULTS.mode;
    const ts = e.trafficSelector;
    const hostOf = (a: AddressDoc | undefined): Uint8Array => {
      if (a?.kind === 'single' || a?.kind === 'prefix') return bytes(a.address, `${what}.trafficSelector`);
      if (a?.kind === 'range') return bytes(a.from, `${what}.trafficSelector`);
      throw new RangeError(`${what}.trafficSelector: a transport-mode SA needs single local and remote addresses`);
    };
    let dst: Uint8Array;
    let tunnel: TunnelEndpoints | undefined;
    if (mode === 'tunnel') {
      if (!e.tunnel) throw new RangeError(`${what}.tunnel: required in tunnel mode`);
      tunnel = oriented(e.tunnel, e.direction, what);
      dst = tunnel.dst;
    } else {
      dst = hostOf(e.direction === 'inbound' ? ts?.local : ts?.remote);
    }
    const linked = e.reqid === undefined ? undefined : doc.spd.find((p) => p.reqid === e.reqid && p.direction === e.direction);
    const base = {
      id: e.name,
      spi: e.spi,
      direction: e.direction,
      dst,
      mode,
      ...(tunnel ? { tunnel } : {}),
      esn: e.extSeqNum ?? POLICY_DEFAULTS.extSeqNum,
      ...(e.direction === 'inbound' ? { replayWindow: e.antiReplayWindowSize ?? POLICY_DEFAULTS.antiReplayWindowSize } : {}),
      lifetimes: { soft: limits(e.saLifetimeSoft), hard: limits(e.saLifetimeHard) },
      ...(e.natT ? { natT: { ...e.natT } } : {}),
      ...(e.seqNumberCounter !== undefined
        ? { sequenceStart: { hi: Math.floor(e.seqNumberCounter / 2 ** 32), lo: e.seqNumberCounter % 2 ** 32 } }
        : {}),
      ...(e.reqid !== undefined ? { reqid: e.reqid } : {}),
      ...(linked ? { policyId: linked.name } : {}),
      ...(ts ? { selector: selector(ts, `${what}.trafficSelector`) } : {}),
      ...(e.integrityKey ? { integrityKey: material(e.integrityKey)! } : {}),
    };
    if ((e.protocolParameters ?? 'esp') === 'ah') {
      const integ = ahIntegByName(e.suite);
      if (integ === undefined) throw new RangeError(`${what}.suite: unknown AH integrity algorithm '${e.suite}'`);
      return { ...base, protocol: 'ah', integ };
    }
    const info = espSuiteByName(e.suite);
    if (!info) throw new RangeError(`${what}.suite: unknown suite '${e.suite}'`);
    return { ...base, protocol: 'esp', suite: { ...info.spec }, ...(e.encryptionKey ? { encryptionKey: material(e.encryptionKey)! } : {}) };
  });
}
