/**
 * The typed document a policy file holds (schema/ipsec-es-policy.xsd). It mirrors the XML, whose
 * structure follows RFC 9061: `ietf-i2nsf-ikeless` (SPD and SAD: policies and static SAs for
 * manual keying) and `ietf-i2nsf-ike` (PAD and connections). Plain data, no positions: a loaded
 * document saved and loaded again deep-equals itself. Optional fields are absent when the file
 * leaves them out; their defaults apply in `toPolicies`/`toStaticSas`, never in the document.
 *
 * Addresses are text in canonical form (dotted quad; RFC 5952 for IPv6), suites are names
 * (`aes128gcm16`, `aes256-sha256`; AH: `sha256`), times in milliseconds (the file says
 * seconds, with up to three decimals).
 */
import type { IpsecMode, SaDirection } from '../sa/types.js';
import type {
  DefaultAction,
  IcmpSelector,
  MhTypeSelector,
  NegotiationShunt,
  PolicyAction,
  PolicyDirection,
  PortSelector,
  ProtocolSelector,
} from '../spd/types.js';

/** The namespace of the policy file format, version 1. */
export const POLICY_NAMESPACE = 'urn:ipsec-es:policy:1';

/** One error found in a policy file, where it is and the rule it broke, in words. */
export interface PolicyError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  rule: string;
}

/** Result of `parsePolicyXml`: the whole document or every error found; never half of one. */
export type PolicyParseResult = { ok: true; doc: PolicyDocument } | { ok: false; errors: PolicyError[] };

/** `<local-prefix>`/`<remote-prefix>` (a prefix, a bare address, `any`, `opaque`) or `<local-range>`. */
export type AddressDoc =
  | { kind: 'any' }
  | { kind: 'opaque' }
  | { kind: 'single'; address: string }
  | { kind: 'prefix'; address: string; length: number }
  | { kind: 'range'; from: string; to: string };

/** `<traffic-selector>` (RFC 9061 `selector-grouping`, with RFC 4301's ICMP and MH selectors). */
export interface TrafficSelectorDoc {
  local: AddressDoc;
  remote: AddressDoc;
  /** Absent: any (RFC 9061's default). */
  innerProtocol?: ProtocolSelector;
  /** Absent: any port. */
  localPorts?: Exclude<PortSelector, { kind: 'any' }>;
  remotePorts?: Exclude<PortSelector, { kind: 'any' }>;
  /** Absent: any ICMP type and code. */
  icmp?: Exclude<IcmpSelector, { kind: 'any' }>;
  mhType?: Exclude<MhTypeSelector, { kind: 'any' }>;
}

/** `<sa-lifetime-soft>`/`<sa-lifetime-hard>` (RFC 9061 `lifetime`); an absent limit is none. */
export interface LifetimeDoc {
  timeMs?: number;
  bytes?: number;
  packets?: number;
}

/** `<tunnel>`: outer header addresses as seen from this gateway. */
export interface TunnelDoc {
  local: string;
  remote: string;
}

/** `<ipsec-sa-cfg>`: the PROTECT parameters. */
export interface IpsecSaCfgDoc {
  /** Default false. */
  extSeqNum?: boolean;
  /** Default 'transport' (RFC 9061). */
  mode?: IpsecMode;
  /** Default 'esp'. */
  protocolParameters?: 'esp' | 'ah';
  /** ESP suite names, or AH integrity names, most preferred first; at least one. */
  algorithms: string[];
  tunnel?: TunnelDoc;
  saLifetimeSoft?: LifetimeDoc;
  saLifetimeHard?: LifetimeDoc;
  /** Default 'none'. */
  offload?: 'none' | 'prefer' | 'require';
  negotiationShunt?: NegotiationShunt;
  natTraversal?: boolean;
}

/** `<ipsec-policy-config>` (RFC 9061 `ipsec-policy-grouping`). */
export interface IpsecPolicyConfigDoc {
  /** Default 64 (RFC 9061); PROTECT only. */
  antiReplayWindowSize?: number;
  /** One or more (RFC 4301 §4.4.1.2 allows several selector sets per entry). */
  trafficSelectors: TrafficSelectorDoc[];
  action: PolicyAction;
  /** Present exactly when `action` is 'protect'. */
  ipsecSaCfg?: IpsecSaCfgDoc;
}

/** `<spd-entry>` of `<ipsec-ikeless>`: one policy in one direction. */
export interface SpdEntryDoc {
  name: string;
  direction: PolicyDirection;
  reqid?: number;
  /** Lower first; default 0; equal priorities keep file order. */
  priority?: number;
  config: IpsecPolicyConfigDoc;
}

/** `<spd-entry>` of a `<conn-entry>`: IKE installs it in both directions (RFC 9061). */
export interface ConnSpdEntryDoc {
  name: string;
  reqid?: number;
  priority?: number;
  config: IpsecPolicyConfigDoc;
}

/** Key material in a file: hex digits (lower case), or a reference `file:/path` or `env:NAME`. */
export type KeyDoc = { hex: string } | { ref: string };

/** `<sad-entry>` of `<ipsec-ikeless>`: a static (manually keyed) SA. */
export interface SadEntryDoc {
  name: string;
  /** Ties the SA to the `<spd-entry>` with the same reqid (RFC 9061). */
  reqid?: number;
  spi: number;
  direction: SaDirection;
  extSeqNum?: boolean;
  /** Inbound only; default 64. */
  antiReplayWindowSize?: number;
  /** Required in transport mode, where its single local and remote addresses are the SA's endpoints. */
  trafficSelector?: TrafficSelectorDoc;
  protocolParameters?: 'esp' | 'ah';
  mode?: IpsecMode;
  /** ESP suite name, or AH integrity name. */
  suite: string;
  /** ESP only; absent for `null-*` suites. */
  encryptionKey?: KeyDoc;
  /** Absent for combined-mode suites. */
  integrityKey?: KeyDoc;
  saLifetimeSoft?: LifetimeDoc;
  saLifetimeHard?: LifetimeDoc;
  tunnel?: TunnelDoc;
  /** RFC 3948 UDP encapsulation ports (`<encapsulation-type>`). */
  natT?: { srcPort: number; dstPort: number };
  /** `<ipsec-sa-state><seq-number-counter>`: outbound, resume after this sequence number. */
  seqNumberCounter?: number;
}

/** The identity of a `<pad-entry>` (RFC 9061 `pad-entry` choice `identity`). */
export type IdentityDoc =
  | { kind: 'ipv4-address'; value: string }
  | { kind: 'ipv6-address'; value: string }
  | { kind: 'fqdn-string'; value: string }
  | { kind: 'rfc822-address-string'; value: string }
  | { kind: 'id-key'; value: string };

/** `<pad-entry>`: an identity and how it authenticates; pre-shared keys by reference only. */
export interface PadEntryDoc {
  name: string;
  identity: IdentityDoc;
  authMethod: 'pre-shared';
  /** `file:/path` or `env:NAME`; never the secret itself. */
  keyRef: string;
}

/** `<conn-entry>` of `<ipsec-ike>`: one IKEv2 peer. */
export interface ConnEntryDoc {
  name: string;
  /** Default 'add'. */
  autostartup?: 'add' | 'on-demand' | 'start';
  /** Default 'ikev2', the only one. */
  version?: 'ikev2';
  /** IKE SA proposals, e.g. `aes256gcm16-prfsha384-ecp384`, most preferred first. */
  ikeProposals: string[];
  /** Seconds. */
  rekeyTime?: number;
  reauthTime?: number;
  overTime?: number;
  local: { address: string; padEntryName: string };
  /** `address` 'any' accepts the peer from any address (a responder for road warriors). */
  remote: { address: string; padEntryName: string };
  /** Inbound SPIs IKE allocates for this connection's child SAs (RFC 2367 SPIRANGE). */
  spiRange?: { start: number; end: number };
  spd: ConnSpdEntryDoc[];
}

/** A whole policy file. */
export interface PolicyDocument {
  /** For traffic no policy matches; absent: DISCARD (RFC 4301 §5.1). */
  defaultAction?: DefaultAction;
  spd: SpdEntryDoc[];
  sad: SadEntryDoc[];
  pad: PadEntryDoc[];
  connections: ConnEntryDoc[];
}

/** Defaults the format applies to absent elements. */
export const POLICY_DEFAULTS = {
  antiReplayWindowSize: 64,
  mode: 'transport',
  protocolParameters: 'esp',
  offload: 'none',
  extSeqNum: false,
} as const;
