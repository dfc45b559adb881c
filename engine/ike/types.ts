/**
 * IKEv2 message and payload values (RFC 7296 §3). Decoded byte fields are views into the input
 * (copy them if the input buffer is reused); encoders read them and keep nothing.
 */

/** The fixed IKE header (RFC 7296 §3.1) less what the encoder derives (Next Payload, Length). */
export interface IkeHeader {
  /** 8 octets; "This value MUST NOT be zero" (§3.1). */
  spiI: Uint8Array;
  /** 8 octets; zero in the first IKE_SA_INIT request (§3.1). */
  spiR: Uint8Array;
  /** §3.1: "MUST set the minor version to 0" and "MUST ignore the minor version" received. */
  minorVersion: number;
  exchangeType: number;
  /** I flag: sent by the original initiator of the IKE SA (§3.1). */
  initiator: boolean;
  /** R flag: this message is a response (§3.1). */
  response: boolean;
  messageId: number;
}

/** A transform attribute (§3.3.5): a number is TV format (AF=1), bytes are TLV format (AF=0). */
export interface TransformAttribute {
  type: number;
  value: number | Uint8Array;
}

/** Transform substructure (§3.3.2). */
export interface Transform {
  /** Transform Type (ENCR 1, PRF 2, INTEG 3, DH 4, ESN 5). */
  type: number;
  id: number;
  attributes: TransformAttribute[];
}

/** Proposal substructure (§3.3.1). */
export interface Proposal {
  /** Proposal Num: 1 for the first, then +1 (§3.3.1); a responder echoes the chosen one. */
  number: number;
  protocol: number;
  /** Empty for an initial IKE SA negotiation, 8 octets for IKE rekeys, 4 for ESP/AH (§3.3.1). */
  spi: Uint8Array;
  transforms: Transform[];
}

/** An address-range traffic selector, TS types 7 and 8 (§3.13.1). */
export interface AddressRangeSelector {
  tsType: 7 | 8;
  /** 0 = any protocol. */
  ipProtocol: number;
  startPort: number;
  endPort: number;
  /** 4 octets for type 7, 16 for type 8. */
  startAddress: Uint8Array;
  endAddress: Uint8Array;
}

/**
 * A selector of a TS type this codec does not interpret (e.g. TS_SECLABEL): `octets` are the
 * selector less its TS Type and Selector Length fields (octet 1, then octets 4 to the end).
 */
export interface OpaqueSelector {
  tsType: number;
  octets: Uint8Array;
}

/**
 * One traffic selector (§3.13.1); tell the kinds apart with `isAddressRange`.
 *
 * @example
 * const any4: TrafficSelector = { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress: Uint8Array.of(0, 0, 0, 0), endAddress: Uint8Array.of(255, 255, 255, 255) };
 */
export type TrafficSelector = AddressRangeSelector | OpaqueSelector;

/** A configuration attribute (§3.15.1); the R bit is sent clear and ignored. */
export interface CfgAttribute {
  type: number;
  value: Uint8Array;
}

/**
 * Security Association payload (§3.3).
 *
 * @example
 * { type: 'SA', proposals: [{ number: 1, protocol: IKE_PROTOCOL.IKE, spi: new Uint8Array(0), transforms }] }
 */
export interface SaPayload {
  type: 'SA';
  proposals: Proposal[];
}
/**
 * Key Exchange payload (§3.4).
 *
 * @example
 * { type: 'KE', group: DH_GROUP.CURVE25519, data: keyPair.publicValue }
 */
export interface KePayload {
  type: 'KE';
  /** Diffie-Hellman Group Num (§3.4). */
  group: number;
  data: Uint8Array;
}
/**
 * Identification payload, IDi or IDr (§3.5).
 *
 * @example
 * { type: 'IDi', idType: ID_TYPE.FQDN, data: new TextEncoder().encode('gw.example') }
 */
export interface IdPayload {
  type: 'IDi' | 'IDr';
  idType: number;
  data: Uint8Array;
}
/**
 * Certificate (§3.6) or Certificate Request (§3.7) payload, carried opaque.
 *
 * @example
 * { type: 'CERTREQ', encoding: CERT_ENCODING.X509_SIGNATURE, data: caKeyHashes }
 */
export interface CertPayload {
  type: 'CERT' | 'CERTREQ';
  encoding: number;
  data: Uint8Array;
}
/**
 * Authentication payload (§3.8).
 *
 * @example
 * { type: 'AUTH', method: AUTH_METHOD.SHARED_KEY_MIC, data: pskAuth(prf, psk, octets) }
 */
export interface AuthPayload {
  type: 'AUTH';
  method: number;
  data: Uint8Array;
}
/**
 * Nonce payload, Ni or Nr (§3.9).
 *
 * @example
 * { type: 'Nonce', data: random.bytes(32) }
 */
export interface NoncePayload {
  type: 'Nonce';
  /** 16 to 256 octets (§3.9). */
  data: Uint8Array;
}
/**
 * Notify payload (§3.10).
 *
 * @example
 * { type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType: NOTIFY_TYPE.COOKIE, data: cookie }
 */
export interface NotifyPayload {
  type: 'N';
  /** 0 when `spi` is empty (§3.10). */
  protocol: number;
  spi: Uint8Array;
  notifyType: number;
  data: Uint8Array;
}
/**
 * Delete payload (§3.11).
 *
 * @example
 * { type: 'D', protocol: IKE_PROTOCOL.ESP, spis: [inboundSpi] }
 */
export interface DeletePayload {
  type: 'D';
  /** 1 (IKE, no SPIs), 2 (AH) or 3 (ESP) with 4-octet SPIs (§3.11). */
  protocol: number;
  spis: Uint8Array[];
}
/**
 * Vendor ID payload (§3.12).
 *
 * @example
 * { type: 'V', data: new TextEncoder().encode('ipsec-es') }
 */
export interface VendorIdPayload {
  type: 'V';
  data: Uint8Array;
}
/**
 * Traffic Selector payload, TSi or TSr (§3.13).
 *
 * @example
 * { type: 'TSi', selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress, endAddress }] }
 */
export interface TsPayload {
  type: 'TSi' | 'TSr';
  /** One or more (§3.13). */
  selectors: TrafficSelector[];
}
/** The Encrypted payload (§3.14) still sealed: `body` is IV ‖ ciphertext ‖ ICV. */
export interface SkPayload {
  type: 'SK';
  /** Payload type of the first inner payload: the SK header's Next Payload (§3.14). */
  firstPayload: number;
  body: Uint8Array;
}
/** The Encrypted Fragment payload (RFC 7383 §2.5), still sealed. */
export interface SkfPayload {
  type: 'SKF';
  /** First inner payload type in fragment 1, 0 in the others (RFC 7383 §2.5). */
  firstPayload: number;
  fragmentNumber: number;
  totalFragments: number;
  body: Uint8Array;
}
/**
 * Configuration payload (§3.15); attribute values are not interpreted here.
 *
 * @example
 * { type: 'CP', cfgType: CFG_TYPE.REQUEST, attributes: [{ type: CFG_ATTRIBUTE.INTERNAL_IP4_ADDRESS, value: new Uint8Array(0) }] }
 */
export interface CpPayload {
  type: 'CP';
  cfgType: number;
  attributes: CfgAttribute[];
}
/** EAP (§3.16) is carried opaque: this codec does not parse EAP messages. */
export interface EapPayload {
  type: 'EAP';
  data: Uint8Array;
}
/** A payload type this codec does not know; kept so it can be skipped and re-encoded (§2.5). */
export interface UnknownPayload {
  type: 'unknown';
  payloadType: number;
  critical: boolean;
  body: Uint8Array;
}

/**
 * Any payload, discriminated by `type` (the RFC's notation: 'SA', 'KE', 'IDi', 'N', ...).
 *
 * @example
 * for (const p of message.payloads) if (p.type === 'N' && p.notifyType === NOTIFY_TYPE.COOKIE) ...
 */
export type IkePayload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | SkPayload
  | SkfPayload
  | CpPayload
  | EapPayload
  | UnknownPayload;

/**
 * The `type` strings of `IkePayload`.
 *
 * @example
 * const kinds: IkePayloadKind[] = ['SA', 'KE', 'Nonce'];
 */
export type IkePayloadKind = IkePayload['type'];

/** A whole IKE message: header and payloads in wire order (an SK/SKF payload, if any, last). */
export interface IkeMessage {
  header: IkeHeader;
  payloads: IkePayload[];
}

/**
 * Why IKE bytes were refused. `malformed` and `truncated` map to INVALID_SYNTAX (which §3.10.1
 * allows only in a response to an authenticated request); the others name their own Notify.
 */
export type IkeDecodeReason =
  | 'truncated'
  | 'malformed'
  | 'invalidMajorVersion'
  | 'unsupportedCriticalPayload'
  | 'authFailed'
  | 'badPadding';

/** A refusal: a value, never an exception. `at` is the offset in the input where it was found. */
export interface IkeDecodeFailure {
  ok: false;
  reason: IkeDecodeReason;
  at: number;
  detail: string;
  /** The header, when it decoded (so a responder can answer with the right SPIs and Message ID). */
  header?: IkeHeader;
  /** With `unsupportedCriticalPayload`: the one-octet type for the Notify data (§2.5). */
  payloadType?: number;
  /** Set when the failure was found inside an SK payload whose ICV verified. */
  authenticated?: true;
}

/** A decoder's result. */
export type IkeResult<T> = ({ ok: true } & T) | IkeDecodeFailure;
