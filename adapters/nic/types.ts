/**
 * The `OffloadNic` port (DESIGN §5): an IPsec offload NIC, shaped after Windows NDIS IPsec
 * offload version 2 (IPsecOV2: OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA / _DELETE_SA / _UPDATE_SA,
 * `NDIS_IPSEC_OFFLOAD_V2` capabilities, `NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO` per packet)
 * and Linux `xfrmdev_ops` (xdo_dev_state_add / _delete / _advance_esn, xdo_dev_offload_ok).
 *
 * The NIC keeps the SA table: keys go in with ADD_SA and never come back; a packet to send
 * carries only the handle. Control calls are asynchronous (an OID may pend); the per-packet calls
 * are synchronous batches, like the other data-path ports.
 */
import type { NicCapabilities } from '../../engine/aggregates/nic.js';
import type { DropReason } from '../../engine/dropReasons.js';
import type { EspSaConfig } from '../../engine/esp/espSa.js';
import type { IpsecMode } from '../../engine/sa/types.js';

/** Declared capabilities (defined with the aggregate that decides with them). */
export type { NicCapabilities };

/** The NIC's name for an offloaded SA (NDIS OffloadHandle); never 0 (NULL). */
export type NicHandle = number;

/**
 * One SA to program (an `IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION` with its keys): the engine's
 * ESP SA configuration, which the NIC turns into its own SA state, plus the destination address
 * inbound packets are matched on (with the SPI, RFC 4301 §4.4.2). ESP only.
 */
export type NicSaSpec = Omit<EspSaConfig, 'backend' | 'replayState'> & {
  /** Inbound: the local address packets arrive to. Outbound: the peer (informational). */
  dst: Uint8Array;
};

/**
 * Per SA of an ADD_SA batch. The batch is all-or-nothing: when any SA fails, none is added and
 * every one gets `handle: null`; those that failed say why, the others carry no reason.
 */
export type NicAddSaResult = { handle: NicHandle } | { handle: null; reason?: 'unsupported' | 'capacity' };

/** What changes on an offloaded SA (IPSEC_OFFLOAD_V2_UPDATE_SA, xdo_dev_state_advance_esn). */
export interface NicSaUpdate {
  /** Inbound, ESN: the high 32 bits the receiver is now in (SequenceNumberHighOrder). */
  seqHi?: number;
  /** Outbound: continue after this sequence number (a restart's checkpoint plus margin). */
  sequence?: { hi: number; lo: number };
}

/**
 * One packet to send: the plain IP packet and the SA(s) that protect it. The NIC does all of
 * ESP on it with the engine's `encapsulate` on its own SA state (sequence number, framing,
 * padding, IV, encryption, ICV): full packet offload, so the counter lives with the keys.
 */
export interface NicTxRequest {
  handle: NicHandle;
  packet: Uint8Array;
  /** A tunnel-mode SA applied around a transport-mode `handle` (NDIS tunnel handle, TransportTunnelCombined). */
  tunnelHandle?: NicHandle;
}

/**
 * Why the NIC did not send a packet; the stack then handles it (fragmenting first, or in
 * software, or dropping it with the engine's reason). A refused packet uses no sequence number
 * (the size is worked out before numbering), except when a combined tunnel SA fails after its
 * transport SA numbered the packet.
 */
export type NicTxRefusal = 'noSa' | 'needsFragmentation' | 'unsupported' | DropReason;

/** Per request: the wire packet with the sequence number(s) it carries, or why it was not sent. */
export type NicTxResult =
  | { ok: true; packet: Uint8Array; seqHi: number; seqLo: number; tunnelSeq?: { hi: number; lo: number } }
  | { ok: false; reason: NicTxRefusal };

/**
 * NDIS CryptoStatus (CRYPTO_SUCCESS, CRYPTO_TRANSPORT/TUNNEL_ESP_AUTH_FAILED,
 * CRYPTO_INVALID_PACKET_SYNTAX, CRYPTO_GENERIC_ERROR) plus a padding check (RFC 4303 §2.4);
 * which layer failed is in `layers`.
 */
export type NicCryptoStatus = 'success' | 'authFailed' | 'paddingFailed' | 'invalidPacketSyntax' | 'genericError';

/** One IPsec payload the NIC processed; outermost first. */
export type NicRxLayer = {
  handle: NicHandle;
  saId: string;
  spi: number;
  mode: IpsecMode;
  seqHi: number;
  seqLo: number;
} & (
  | { status: 'success'; nextHeader: number; payload: Uint8Array }
  | { status: Exclude<NicCryptoStatus, 'success'> }
);

/** Why a packet went up without offload information. */
export type NicRxBypass = 'noSa' | 'notIpsec' | 'fragment' | 'unsupported' | 'malformed';

/**
 * A received packet as indicated up the stack; every packet is indicated, failures included.
 * With `cryptoDone`, `packet` has been decrypted in place where it verified (headers, IV,
 * trailer and ICV left for the stack to strip, as NDIS does) and each layer's `payload` is a
 * view into it. Replay is not checked: the stack does that (RFC 4303 §3.4.3).
 */
export type NicRxIndication =
  | { packet: Uint8Array; cryptoDone: false; nextCryptoDone: false; saDeleteRequest: false; bypass: NicRxBypass }
  | {
      packet: Uint8Array;
      cryptoDone: true;
      /** Both a tunnel and a transport payload were processed (NDIS NextCryptoDone). */
      nextCryptoDone: boolean;
      /** The first failure among the layers, else `success`. */
      cryptoStatus: NicCryptoStatus;
      /** Delete this inbound SA and its outbound pair (NDIS SaDeleteReq); the NIC keeps both until DELETE_SA. */
      saDeleteRequest: boolean;
      layers: readonly NicRxLayer[];
    };

/**
 * An offload NIC. Conformance is declared with `satisfies OffloadNic`.
 *
 * @example
 * const [r] = await nic.addSa([spec]);
 * if (r!.handle !== null) nic.transmit([{ handle: r!.handle, packet }]);
 */
export interface OffloadNic {
  readonly name: string;
  readonly capabilities: NicCapabilities;
  /** ADD_SA: a handle per SA, or none at all (see `NicAddSaResult`). Misuse (bad keys, a duplicate SA) rejects with a RangeError. */
  addSa(batch: readonly NicSaSpec[]): Promise<NicAddSaResult[]>;
  /** DELETE_SA; false when the NIC does not know the handle. */
  deleteSa(handle: NicHandle): Promise<boolean>;
  /** UPDATE_SA; false when the NIC does not know the handle (NDIS_STATUS_INVALID_PARAMETER). */
  updateSa(handle: NicHandle, update: NicSaUpdate): Promise<boolean>;
  /** Drops every SA (offload disabled, or the NIC reset): what a restarted gateway starts from. */
  reset(): Promise<void>;
  /** Protects and sends, one result per request in order. */
  transmit(packets: readonly NicTxRequest[]): NicTxResult[];
  /** Processes received datagrams, one indication per datagram in order. Datagrams are consumed. */
  receive(datagrams: readonly Uint8Array[]): NicRxIndication[];
}
