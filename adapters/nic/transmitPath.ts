/**
 * The emulated NIC's send path. The NIC runs the engine's own `encapsulate` on the SA state it
 * holds (full packet offload, as Linux's XFRM_DEV_OFFLOAD_PACKET mode: the device numbers,
 * frames, generates the IV, encrypts and computes the ICV), so the wire bytes are the engine's
 * by construction, and the sequence counter lives where the keys live.
 */
import type { NicCapabilities } from '../../engine/aggregates/nic.js';
import { readU16 } from '../../engine/bytes.js';
import type { EspSa } from '../../engine/esp/espSa.js';
import { encapsulate } from '../../engine/esp/encapsulate.js';
import type { IvSource } from '../../engine/esp/ivSource.js';
import { ESP_HEADER, ESP_TRAILER_FIXED, espPadLength } from '../../engine/packet/espHeader.js';
import { IPV4_MIN_HEADER } from '../../engine/packet/ipv4.js';
import { IPV6_HEADER, parseIpv6 } from '../../engine/packet/ipv6.js';
import { UDP_HEADER } from '../../engine/packet/udp.js';
import type { NicEntry } from './nicTable.js';
import type { NicTxRequest, NicTxResult } from './types.js';

/** What the send path needs from the NIC around it. */
export interface TxContext {
  caps: NicCapabilities;
  /** Largest IP packet the link carries; larger ones are not offloaded (the NIC does not fragment). */
  mtu: number;
  ivSource: IvSource;
  entry(handle: number): NicEntry | undefined;
  /** Consumes one pending "corrupt the next sent packet" fault. */
  corruptTx(): boolean;
}

/**
 * Octets `sa` puts around `payloadLength` octets of protected payload: UDP (RFC 3948 §2.1), the
 * ESP header, IV, TFC padding (tunnel mode), padding, trailer and ICV (RFC 4303 §2).
 */
function espAround(sa: EspSa, payloadLength: number): number {
  const t = sa.transform;
  const cfg = sa.config;
  const tfc = cfg.mode === 'tunnel' && cfg.tfcPadTo !== undefined ? Math.max(0, cfg.tfcPadTo - payloadLength) : 0;
  const body = payloadLength + tfc;
  return (cfg.natT ? UDP_HEADER : 0) + ESP_HEADER + t.ivLength + body + espPadLength(body, t.padAlign) + ESP_TRAILER_FIXED + t.icvLength;
}

/**
 * The length `encapsulate(packet, sa)` will produce, computed before a sequence number is spent
 * (so a refused packet costs none); undefined when the packet is malformed (the engine says how).
 *
 * @example
 * encapsulatedLength(packet, sa) // 20 + 8 + 8 + 100 + 2 + 2 + 16 for 100 octets on AES-GCM, tunnel v4
 */
export function encapsulatedLength(packet: Uint8Array, sa: EspSa): number | undefined {
  const first = packet[0];
  if (first === undefined) return undefined;
  const v4 = first >> 4 === 4;
  if (!v4 && first >> 4 !== 6) return undefined;
  if (packet.length < (v4 ? IPV4_MIN_HEADER : IPV6_HEADER)) return undefined;
  const length = v4 ? readU16(packet, 2) : IPV6_HEADER + readU16(packet, 4);
  if (length > packet.length) return undefined;
  const tunnel = sa.config.tunnel;
  if (sa.config.mode === 'tunnel' && tunnel) return (tunnel.src.length === 4 ? IPV4_MIN_HEADER : IPV6_HEADER) + espAround(sa, length);
  // RFC 4303 §3.1.1: transport mode keeps the IP header (IPv6: up to where ESP goes) in front.
  let prefix = (first & 0x0f) * 4;
  if (!v4) {
    const ip = parseIpv6(packet);
    if (!ip.ok) return undefined;
    prefix = ip.ipsecInsertOffset;
  }
  if (prefix > length) return undefined;
  return prefix + espAround(sa, length - prefix);
}

/** The per-packet capability checks (IPv4 options, IPv6) a NIC declares in NDIS_IPSEC_OFFLOAD_V2. */
function packetUnsupported(packet: Uint8Array, caps: NicCapabilities): boolean {
  const version = (packet[0] ?? 0) >> 4;
  if (version === 6) return !caps.ipv6;
  return version === 4 && ((packet[0] ?? 0) & 0x0f) > 5 && !caps.ipv4Options;
}

const NO_SA: NicTxResult = { ok: false, reason: 'noSa' };
const UNSUPPORTED: NicTxResult = { ok: false, reason: 'unsupported' };
const TOO_BIG: NicTxResult = { ok: false, reason: 'needsFragmentation' };

/**
 * Sends one packet on its SA (and, for a transport SA inside a tunnel SA, the tunnel SA around
 * it). Refuses what it does not do — unknown handles, undeclared features, packets that would
 * need fragmenting — before any sequence number is used.
 *
 * @example
 * const r = transmitOne({ handle: 3, packet }, ctx);
 */
export function transmitOne(req: NicTxRequest, ctx: TxContext): NicTxResult {
  const inner = ctx.entry(req.handle);
  if (!inner || inner.spec.direction !== 'outbound') return NO_SA;
  let outer: NicEntry | undefined;
  if (req.tunnelHandle !== undefined) {
    outer = ctx.entry(req.tunnelHandle);
    if (!outer || outer.spec.direction !== 'outbound') return NO_SA;
    if (!ctx.caps.transportTunnelCombined || inner.spec.mode !== 'transport' || outer.spec.mode !== 'tunnel') return UNSUPPORTED;
  }
  if (packetUnsupported(req.packet, ctx.caps)) return UNSUPPORTED;
  const length = encapsulatedLength(req.packet, inner.sa);
  if (length !== undefined) {
    const total = outer ? (outer.sa.config.tunnel!.src.length === 4 ? IPV4_MIN_HEADER : IPV6_HEADER) + espAround(outer.sa, length) : length;
    if (total > ctx.mtu) return TOO_BIG;
  }
  const first = encapsulate(req.packet, inner.sa, ctx.ivSource);
  if (!first.ok) return first;
  let packet = first.packet;
  let tunnelSeq: { hi: number; lo: number } | undefined;
  if (outer) {
    const second = encapsulate(packet, outer.sa, ctx.ivSource);
    if (!second.ok) return second;
    packet = second.packet;
    tunnelSeq = { hi: second.seqHi, lo: second.seqLo };
  }
  if (ctx.corruptTx()) packet[packet.length - 1]! ^= 0x01; // the ICV's last octet
  return { ok: true, packet, seqHi: first.seqHi, seqLo: first.seqLo, ...(tunnelSeq ? { tunnelSeq } : {}) };
}
