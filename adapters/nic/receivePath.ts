/**
 * The emulated NIC's receive path: RFC 4303 §3.4 minus what NDIS leaves to the stack. The NIC
 * finds the SA by SPI and destination, infers the ESN high bits, verifies the ICV, decrypts in
 * place and checks the padding; it does not check replay (§3.4.3: the stack's window decides)
 * and does not strip headers. Every datagram is indicated, failures included.
 *
 * Built from the engine's steps (`parseIp`, `classifyUdpEncap`, `EspTransform.open`,
 * `parseEspTrailer`) rather than `openEsp`, which checks and advances the replay window.
 */
import type { NicCapabilities } from '../../engine/aggregates/nic.js';
import { ESP_HEADER, parseEspTrailer, readEspSeq, readEspSpi } from '../../engine/packet/espHeader.js';
import { claimedIpLength, parseIp } from '../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../engine/packet/ipProtocol.js';
import { parseUdp } from '../../engine/packet/udp.js';
import { classifyUdpEncap } from '../../engine/packet/udpEncap.js';
import type { NicEntry } from './nicTable.js';
import type { NicCryptoStatus, NicRxBypass, NicRxIndication, NicRxLayer } from './types.js';

/** What the receive path needs from the NIC around it. */
export interface RxContext {
  caps: NicCapabilities;
  /** The inbound SA for (SPI, destination), if offloaded. */
  lookup(spi: number, dst: Uint8Array): NicEntry | undefined;
  /** Consumes one pending "corrupt the next received packet" fault. */
  corruptRx(): boolean;
}

type Located = { ok: true; esp: Uint8Array; dst: Uint8Array; udpPort: number | undefined } | { ok: false; reason: NicRxBypass };

/** The ESP part of an IP datagram, raw (protocol 50) or in UDP (RFC 3948 §2.1). */
function locateEsp(datagram: Uint8Array, caps: NicCapabilities): Located {
  const ip = parseIp(datagram);
  if (!ip.ok) return { ok: false, reason: 'malformed' };
  // RFC 4303 §3.4.1: IPsec applies to reassembled datagrams; the NIC does not reassemble.
  if (ip.fragment) return { ok: false, reason: 'fragment' };
  if (ip.version === 6 ? !caps.ipv6 : ip.header.headerLength > 20 && !caps.ipv4Options) return { ok: false, reason: 'unsupported' };
  let esp: Uint8Array;
  let udpPort: number | undefined;
  if (ip.protocol === IPPROTO.ESP) {
    esp = ip.payload;
  } else if (ip.protocol === IPPROTO.UDP && caps.udpEsp) {
    const udp = parseUdp(ip.payload);
    if (!udp.ok) return { ok: false, reason: 'malformed' };
    // RFC 3948 §2.2: keepalives and non-ESP-marked (IKE) payloads are not ESP.
    const c = classifyUdpEncap(udp.payload);
    if (c.kind !== 'esp') return { ok: false, reason: 'notIpsec' };
    esp = c.esp;
    udpPort = udp.dstPort;
  } else {
    return { ok: false, reason: 'notIpsec' };
  }
  if (esp.length < ESP_HEADER) return { ok: false, reason: 'malformed' };
  return { ok: true, esp, dst: ip.dst, udpPort };
}

/** ICV check, decryption and padding check of one ESP payload on one SA (RFC 4303 §3.4.4, §2.4). */
function openLayer(esp: Uint8Array, entry: NicEntry): NicRxLayer {
  const sa = entry.sa;
  const t = sa.transform;
  const seqLo = readEspSeq(esp);
  // RFC 4303 App. A2.2: the high bits enter the ICV; infer them from the highest verified number.
  const seqHi = entry.esn ? entry.esn.inferSeqHi(seqLo) : 0;
  const base = { handle: entry.handle, saId: entry.spec.id, spi: entry.spec.spi, mode: entry.spec.mode, seqHi, seqLo };
  const bodyLength = esp.length - ESP_HEADER - t.ivLength - t.icvLength;
  // RFC 4303 §2.4: the ciphertext holds at least the trailer and is a whole number of blocks.
  if (bodyLength < 2 || bodyLength % t.padAlign !== 0) return { ...base, status: 'invalidPacketSyntax' };
  if (!t.open(esp, sa.esn ? seqHi : undefined)) return { ...base, status: 'authFailed' };
  // Moves the ESN tracker only (a duplicate changes nothing there); no verdict is taken from it.
  entry.esn?.advance(seqHi, seqLo);
  const body = ESP_HEADER + t.ivLength;
  const trailer = parseEspTrailer(esp.subarray(body, body + bodyLength));
  if (!trailer.ok) return { ...base, status: 'paddingFailed' };
  return { ...base, status: 'success', nextHeader: trailer.nextHeader, payload: esp.subarray(body, body + trailer.payloadLength) };
}

/**
 * A transport-mode ESP payload inside a verified tunnel-mode one, on an offloaded SA (NDIS
 * TransportTunnelCombined → NextCryptoDone). AH inside ESP (AH+ESP bundles) is not offloaded.
 */
function innerLayer(outer: NicRxLayer, ctx: RxContext): NicRxLayer | undefined {
  if (outer.status !== 'success' || outer.mode !== 'tunnel' || !ctx.caps.transportTunnelCombined) return undefined;
  if (outer.nextHeader !== IPPROTO.IPV4 && outer.nextHeader !== IPPROTO.IPV6) return undefined;
  const length = claimedIpLength(outer.payload, outer.nextHeader === IPPROTO.IPV4 ? 4 : 6);
  if (length < 0) return undefined;
  const inner = locateEsp(outer.payload.subarray(0, length), ctx.caps);
  if (!inner.ok) return undefined;
  const entry = ctx.lookup(readEspSpi(inner.esp), inner.dst);
  if (!entry || entry.spec.direction !== 'inbound' || entry.spec.mode !== 'transport') return undefined;
  if (inner.udpPort !== undefined && inner.udpPort !== entry.spec.natT?.dstPort) return undefined;
  return openLayer(inner.esp, entry);
}

/**
 * Processes one received datagram into its indication. `datagram` is consumed: decrypted in
 * place where its ICV verified, unchanged where it did not.
 *
 * @example
 * const ind = receiveOne(datagram, ctx);
 * if (ind.cryptoDone && ind.cryptoStatus === 'success') deliver(ind.layers);
 */
export function receiveOne(datagram: Uint8Array, ctx: RxContext): NicRxIndication {
  const located = locateEsp(datagram, ctx.caps);
  if (!located.ok) return { packet: datagram, cryptoDone: false, nextCryptoDone: false, saDeleteRequest: false, bypass: located.reason };
  const entry = ctx.lookup(readEspSpi(located.esp), located.dst);
  // No offloaded SA: indicated without offload information; the stack processes it in software.
  if (!entry || entry.spec.direction !== 'inbound') return { packet: datagram, cryptoDone: false, nextCryptoDone: false, saDeleteRequest: false, bypass: 'noSa' };
  // RFC 3948 §2.1: ESP in UDP only on the port the SA was negotiated for; any other UDP is not ours.
  if (located.udpPort !== undefined && located.udpPort !== entry.spec.natT?.dstPort) return { packet: datagram, cryptoDone: false, nextCryptoDone: false, saDeleteRequest: false, bypass: 'notIpsec' };
  if (ctx.corruptRx()) located.esp[located.esp.length - 1]! ^= 0x01; // the ICV's last octet
  const outer = openLayer(located.esp, entry);
  const inner = innerLayer(outer, ctx);
  const layers = inner ? [outer, inner] : [outer];
  const failed = layers.find((l) => l.status !== 'success');
  const cryptoStatus: NicCryptoStatus = failed ? failed.status : 'success';
  // NDIS SaDeleteReq: the stack deletes this SA and its pair; the NIC keeps both until then.
  const saDeleteRequest = entry.deleteRequestPending;
  entry.deleteRequestPending = false;
  return { packet: datagram, cryptoDone: true, nextCryptoDone: inner !== undefined, cryptoStatus, saDeleteRequest, layers };
}
