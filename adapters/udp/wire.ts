/**
 * The glue between the engine and a `DatagramBind` on the NAT-T port (RFC 3948).
 *
 * The engine speaks whole IP datagrams: an SA with NAT-T ports makes `encapsulate` build
 * outer IP + UDP + ESP, and `decapsulate`/`processInbound` take the same shape. A UDP socket
 * speaks UDP payloads and (address, port) pairs; the kernel owns the IP and UDP headers.
 *
 * Outbound (`wireDatagramOf`, `UdpWire.send`): the UDP payload of the engine's datagram goes to
 * (outer destination address, UDP destination port). The engine's source address and port and
 * the rest of its headers are not used: the kernel writes its own from the socket (bind the
 * socket to the address and port the SA names, normally 4500, or NATs and peers see others).
 *
 * Inbound, two shapes:
 * - `onDatagrams` (works with `processInbound` today): each ESP payload is wrapped again in a
 *   synthetic IP + UDP header (`ipDatagramOf`): addresses and ports are the real ones, TTL, ID,
 *   DSCP/ECN and DF are not (Node does not report them; ECN marks of the outer header cannot
 *   reach RFC 6040 decapsulation this way). One allocation and one copy per datagram, plus the
 *   UDP checksum over IPv6 (RFC 8200 §8.1 makes it mandatory).
 * - `onEsp` (cheaper, zero-copy): the ESP bytes themselves with both endpoints and the local
 *   address as bytes, ready for the engine's `openEsp(esp, dst, lookup)`;
 *   `decapsulateEspInUdp` does the rest of `decapsulate` for them (tunnel mode without any
 *   copy, transport mode through a rebuilt datagram since it must rewrite an outer header).
 *
 * Datagrams that are not ESP are separated here (RFC 3948 §2.2, §2.3): IKE messages (non-ESP
 * marker) go to `onIke`, NAT-keepalives to `onKeepalive`, anything else is a counted drop with
 * the engine's reason. Nothing a datagram contains can throw out of the wire.
 */
import { readU16, writeU16 } from '../../engine/bytes.js';
import { DropCounters, type DropReason, type Result } from '../../engine/dropReasons.js';
import { decapsulate, openEsp, type DecapsulateResult, type Drop, type SaLookup } from '../../engine/esp/decapsulate.js';
import { readEspSpi } from '../../engine/packet/espHeader.js';
import { claimedIpLength, parseIp } from '../../engine/packet/ipPacket.js';
import { IPPROTO } from '../../engine/packet/ipProtocol.js';
import { IPV4_MIN_HEADER, writeIpv4Header } from '../../engine/packet/ipv4.js';
import { IPV6_HEADER, writeIpv6Header } from '../../engine/packet/ipv6.js';
import { UDP_HEADER, udpChecksum, writeUdpHeader } from '../../engine/packet/udp.js';
import { classifyUdpEncap, NAT_KEEPALIVE_OCTET, NAT_T_PORT, NON_ESP_MARKER } from '../../engine/packet/udpEncap.js';
import { allocPacket } from '../../engine/packetBuffer.js';
import { formatIpAddress, parseIpAddress } from '../../engine/policy/ipText.js';
import type { Datagram, DatagramBind, Endpoint } from './types.js';
import { bindClosed } from './udpBind.js';

/**
 * RFC 7296 §3.1: the IKE header is 28 octets; a non-ESP-marked datagram shorter than that is no IKE message.
 *
 * @example
 * if (message.length < IKE_HEADER) return;
 */
export const IKE_HEADER = 28;

/**
 * An ESP packet received in UDP, for `openEsp` / `decapsulateEspInUdp`.
 *
 * @example
 * const r = openEsp(item.esp, item.dst, sad.espLookup);
 */
export interface EspInUdp {
  /** SPI..ICV: a view of the received datagram, which the receiver owns (decrypt in place). */
  esp: Uint8Array;
  remote: Endpoint;
  local: Endpoint;
  /** The local address as bytes: the destination the SAD finds the SPI under. Shared: do not modify. */
  dst: Uint8Array;
  /** The remote address as bytes. Shared: do not modify. */
  src: Uint8Array;
}

/**
 * What a wire counts; drops by reason go to its `DropCounters`.
 *
 * @example
 * const { espIn, ikeIn, droppedIn } = wire.counters;
 */
export interface UdpWireCounters {
  /** ESP datagrams handed on (`onDatagrams` / `onEsp`). */
  espIn: number;
  /** IKE messages handed to `onIke`. */
  ikeIn: number;
  /** NAT-keepalives received (RFC 3948 §2.3). */
  keepalivesIn: number;
  /** Received datagrams dropped (reasons in `drops`). */
  droppedIn: number;
  /** ESP datagrams given to the bind. */
  espOut: number;
  ikeOut: number;
  keepalivesOut: number;
  /** Engine packets that could not go out over UDP (reasons in `drops`). */
  droppedOut: number;
  /** Callbacks (`onDatagrams`, `onEsp`, `onIke`, `onKeepalive`) that threw. */
  callbackErrors: number;
}

/**
 * Options of `udpWire`. Exactly one of `onDatagrams` and `onEsp`.
 *
 * @example
 * const options: UdpWireOptions = { bind, drops: gw.drops, onEsp: (batch) => openAll(batch), onIke: (m, from) => ike.receive(m, from) };
 */
export interface UdpWireOptions {
  bind: DatagramBind;
  /** Where drops are counted, by reason (the gateway's `gw.drops`); default a new `DropCounters`. */
  drops?: DropCounters;
  /**
   * The local addresses to use when the bind is on a wildcard (`0.0.0.0`, `::`): Node does not
   * say which local address a datagram arrived at, and the SAD finds an inbound SA by (SPI,
   * destination). Without one, ESP on that family is dropped (`unsupported`).
   */
  local?: { v4?: string; v6?: string };
  /**
   * Inbound ESP as IP + UDP datagrams, one batch per bind batch: feed them to `processInbound` /
   * `decapsulate`. The datagrams are new buffers the callback owns. A callback that throws loses
   * its batch (counted once in `callbackErrors`); the wire goes on.
   */
  onDatagrams?: (batch: Uint8Array[]) => void;
  /** Inbound ESP as ESP bytes (no copy; the callback owns them): feed them to `decapsulateEspInUdp` or `openEsp`. */
  onEsp?: (batch: EspInUdp[]) => void;
  /**
   * An IKE message (RFC 7296), the non-ESP marker removed (RFC 3948 §2.2): a view of the received
   * buffer, which the callback owns. Without it, IKE is dropped (`notIpsec`).
   */
  onIke?: (message: Uint8Array, remote: Endpoint, local: Endpoint) => void;
  /** A NAT-keepalive arrived (RFC 3948 §2.3: ignored by IPsec; an IKE daemon may note the peer is alive). */
  onKeepalive?: (remote: Endpoint, local: Endpoint) => void;
}

/**
 * The engine's view of a `DatagramBind` on port 4500.
 *
 * @example
 * const wire: UdpWire = udpWire({ bind, onDatagrams }); wire.send(wirePackets); wire.sendKeepalive(peer);
 */
export interface UdpWire {
  readonly bind: DatagramBind;
  readonly drops: DropCounters;
  readonly counters: Readonly<UdpWireCounters>;
  /**
   * Sends the engine's ESP-in-UDP IP datagrams (`encapsulate`, `processOutbound` output) as one
   * bind batch. A packet that is not ESP in UDP is a counted drop (`notIpsec`, `truncated`, ...).
   * The packets are given away (see `DatagramBind` ownership). Throws `bind.closed` after close.
   */
  send(packets: readonly Uint8Array[]): void;
  /** Sends an IKE message behind the non-ESP marker (RFC 3948 §2.2). `message` is copied. */
  sendIke(message: Uint8Array, to: Endpoint): void;
  /** Sends a NAT-keepalive, the single octet 0xFF (RFC 3948 §2.3). */
  sendKeepalive(to: Endpoint): void;
}

const drop = (reason: DropReason) => ({ ok: false, reason }) as const;

/** Bounded text → bytes memo: peers are few, parsing per datagram is not free. */
const addressBytesMemo = new Map<string, Uint8Array | null>();

/**
 * The bytes of an IP literal (a zone id such as `%eth0` is ignored), or `undefined`. Memoized;
 * the result is shared and must not be modified.
 *
 * @example
 * addressBytes('192.0.2.1') // Uint8Array [192, 0, 2, 1]
 */
export function addressBytes(address: string): Uint8Array | undefined {
  let bytes = addressBytesMemo.get(address);
  if (bytes === undefined) {
    const zone = address.indexOf('%');
    const parsed = parseIpAddress(zone < 0 ? address : address.slice(0, zone));
    bytes = parsed.ok ? parsed.value : null;
    if (addressBytesMemo.size >= 4096) addressBytesMemo.clear();
    addressBytesMemo.set(address, bytes);
  }
  return bytes ?? undefined;
}

let lastV6: Uint8Array | undefined;
let lastV6Text = '';

function addressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (lastV6 !== undefined) {
    let same = true;
    for (let i = 0; i < 16; i++) if (lastV6[i] !== bytes[i]) same = false;
    if (same) return lastV6Text;
  }
  lastV6 = bytes.slice();
  lastV6Text = formatIpAddress(lastV6);
  return lastV6Text;
}

/**
 * Outbound: what goes into the UDP socket for one engine datagram carrying ESP in UDP: the UDP
 * payload (a view, no copy) to (outer destination address, UDP destination port). Never throws;
 * drops: `truncated`/`malformed` (headers), `fragment`, `notIpsec` (not UDP, or a UDP payload
 * that is not ESP: raw ESP from an SA without NAT-T, a bypassed plain packet, an IKE message).
 *
 * @example
 * const r = wireDatagramOf(encapsulate(inner, sa, iv).packet);
 * if (r.ok) bind.send([r]);
 */
export function wireDatagramOf(packet: Uint8Array): Result<Datagram> {
  const first = packet[0];
  let udpOffset: number;
  let end: number;
  let dst: Uint8Array;
  if (first !== undefined && first >> 4 === 4) {
    if (packet.length < IPV4_MIN_HEADER) return drop('truncated');
    const headerLength = (first & 0x0f) * 4;
    end = readU16(packet, 2);
    if (headerLength < IPV4_MIN_HEADER || end < headerLength) return drop('malformed');
    if (end > packet.length) return drop('truncated');
    if (packet[9] !== IPPROTO.UDP) return drop('notIpsec');
    if ((readU16(packet, 6) & 0x3fff) !== 0) return drop('fragment');
    udpOffset = headerLength;
    dst = packet.subarray(16, 20);
  } else if (first !== undefined && first >> 4 === 6) {
    if (packet.length < IPV6_HEADER) return drop('truncated');
    if (packet[6] === IPPROTO.UDP) {
      end = IPV6_HEADER + readU16(packet, 4);
      if (end > packet.length) return drop('truncated');
      udpOffset = IPV6_HEADER;
      dst = packet.subarray(24, 40);
    } else {
      // Transport mode may keep extension headers in front of UDP (RFC 4303 §3.1.1).
      const ip = parseIp(packet);
      if (!ip.ok) return ip;
      if (ip.fragment) return drop('fragment');
      if (ip.protocol !== IPPROTO.UDP) return drop('notIpsec');
      udpOffset = ip.payloadOffset;
      end = ip.payloadOffset + ip.payload.length;
      dst = ip.dst;
    }
  } else {
    return drop(first === undefined ? 'truncated' : 'malformed');
  }
  if (end - udpOffset < UDP_HEADER) return drop('truncated');
  const udpLength = readU16(packet, udpOffset + 4);
  if (udpLength < UDP_HEADER) return drop('malformed');
  if (udpOffset + udpLength > end) return drop('truncated');
  const data = packet.subarray(udpOffset + UDP_HEADER, udpOffset + udpLength);
  // RFC 3948 §2.1: only ESP goes this way (a non-zero SPI, a whole ESP header); IKE and
  // keepalives have `sendIke` / `sendKeepalive`.
  if (classifyUdpEncap(data).kind !== 'esp') return drop('notIpsec');
  return { ok: true, data, address: addressText(dst), port: readU16(packet, udpOffset + 2) };
}

/**
 * Inbound: the IP + UDP datagram that carried `data` from `remote` to `local`, as the engine's
 * `decapsulate`/`processInbound` take it. Synthetic where the socket hides the truth: TTL 64,
 * ID 0, no DSCP/ECN, DF clear; the IPv4 UDP checksum is 0 (RFC 3948 §2.1 lets ESP-in-UDP
 * carry none), the IPv6 one is computed (RFC 8200 §8.1). The result is a new buffer the caller
 * owns; `data` is only read. Drops: `unsupported` (an address is not an IP literal, or the two
 * families differ), `oversized` (longer than an IP datagram).
 *
 * @example
 * const r = ipDatagramOf(d.data, d, { address: '192.0.2.2', port: 4500 });
 * if (r.ok) decapsulate(r.packet, sad.espLookup, drops);
 */
export function ipDatagramOf(data: Uint8Array, remote: Endpoint, local: Endpoint): Result<{ packet: Uint8Array }> {
  const src = addressBytes(remote.address);
  const dst = addressBytes(local.address);
  if (src === undefined || dst === undefined || src.length !== dst.length) return drop('unsupported');
  const v4 = src.length === 4;
  const header = v4 ? IPV4_MIN_HEADER : IPV6_HEADER;
  const udpLength = UDP_HEADER + data.length;
  if ((v4 ? header : 0) + udpLength > 0xffff) return drop('oversized');
  const out = allocPacket(header + udpLength);
  if (v4) writeIpv4Header(out, 0, { totalLength: header + udpLength, protocol: IPPROTO.UDP, src, dst });
  else writeIpv6Header(out, 0, { payloadLength: udpLength, nextHeader: IPPROTO.UDP, hopLimit: 64, src, dst });
  writeUdpHeader(out, header, remote.port, local.port, udpLength, 0);
  out.set(data, header + UDP_HEADER);
  if (!v4) writeU16(out, header + 6, udpChecksum(src, dst, out.subarray(header)));
  return { ok: true, packet: out };
}

/**
 * `decapsulate` for ESP received in UDP, without rebuilding the datagram: the same rules and
 * results (RFC 4303 §3.4 through `openEsp`; RFC 3948 §2.1: ESP-in-UDP only on port 4500 or the
 * SA's own NAT-T port, else `notIpsec`; tunnel mode: Next Header must be IPv4/IPv6 and TFC
 * padding is cut by the inner header's length, RFC 4303 §2.7; usage counted; drops counted in
 * `drops`). Transport mode must rewrite an outer header, so it goes through `ipDatagramOf` and
 * `decapsulate`. Buffer ownership: `item.esp` is decrypted in place; the packet is a view into it.
 *
 * @example
 * udpWire({ bind, drops, onEsp: (batch) => { for (const e of batch) { const r = decapsulateEspInUdp(e, sad.espLookup, drops); if (r.ok) toTun.push(r.packet); } } });
 */
export function decapsulateEspInUdp(item: EspInUdp, lookup: SaLookup, drops?: DropCounters): DecapsulateResult {
  const r = openInUdp(item, lookup);
  if (!r.ok) drops?.count(r.reason, r.sa?.id);
  return r;
}

function openInUdp(item: EspInUdp, lookup: SaLookup): DecapsulateResult {
  const { esp, dst } = item;
  if (esp.length < 8) return { ok: false, reason: 'truncated', sa: undefined };
  const found = lookup(readEspSpi(esp), dst, IPPROTO.ESP);
  // RFC 3948 §2.1: on another port than 4500 only an SA set up with that port takes ESP.
  if (item.local.port !== NAT_T_PORT && found?.config.natT?.dstPort !== item.local.port) return { ok: false, reason: 'notIpsec', sa: undefined };
  if (found !== undefined && found.config.mode === 'transport') {
    const datagram = ipDatagramOf(esp, item.remote, item.local);
    if (!datagram.ok) return { ok: false, reason: datagram.reason, sa: found };
    return decapsulate(datagram.packet, lookup); // decapsulate counts usage; drops are counted by the caller
  }
  const opened = openEsp(esp, dst, lookup);
  if (!opened.ok) return opened;
  const { sa, payload, nextHeader } = opened;
  // RFC 4303 §2.3 / RFC 4301 §5.2: in tunnel mode the payload is an IP packet, and nothing else.
  if (nextHeader !== IPPROTO.IPV4 && nextHeader !== IPPROTO.IPV6) return { ok: false, reason: 'badNextHeader', sa } satisfies Drop;
  // RFC 4303 §2.7: TFC padding follows the inner packet; its own header says where it ends.
  const length = claimedIpLength(payload, nextHeader === IPPROTO.IPV4 ? 4 : 6);
  if (length < 0) return { ok: false, reason: 'malformed', sa };
  sa.usage.packets++;
  sa.usage.bytes += length;
  return { ok: true, sa, packet: payload.subarray(0, length), nextHeader, seqHi: opened.seqHi, seqLo: opened.seqLo, payloadLength: length };
}

/**
 * Outbound, one packet, drops not counted: `wireDatagramOf` as `Datagram | undefined`.
 * `udpWire().send` is the counted form.
 *
 * @example
 * bind.send(wirePackets.map(toWire).filter((d) => d !== undefined));
 */
export function toWire(packet: Uint8Array): Datagram | undefined {
  const r = wireDatagramOf(packet);
  return r.ok ? { data: r.data, address: r.address, port: r.port } : undefined;
}

/**
 * Inbound, one datagram, drops not counted: the IP + UDP datagram for `processInbound` when
 * `d` is ESP (RFC 3948 §2.1), `undefined` for anything else (IKE, keepalives, garbage). The
 * local address is the bind's, or `local` when the bind is on a wildcard (Node cannot tell which
 * local address a datagram arrived at; without `local` a wildcard bind yields `undefined`).
 * `udpWire()` is the counted form that also hands IKE and keepalives on.
 *
 * @example
 * const ip = fromWire(d, bind, '198.51.100.1'); if (ip) processInbound(gw, ip, toTun);
 */
export function fromWire(d: Datagram, bind: Pick<DatagramBind, 'localAddress' | 'localPort'>, local?: string): Uint8Array | undefined {
  if (classifyUdpEncap(d.data).kind !== 'esp') return undefined;
  const bound = addressBytes(bind.localAddress);
  const address = bound === undefined || bound.every((b) => b === 0) ? local : bind.localAddress;
  if (address === undefined) return undefined;
  const r = ipDatagramOf(d.data, d, { address, port: bind.localPort });
  return r.ok ? r.packet : undefined;
}

/**
 * Joins the engine to a bind on the NAT-T port: installs itself as the bind's receiver, sorts
 * what arrives (RFC 3948 §2: ESP, IKE behind the non-ESP marker, NAT-keepalive, garbage), and
 * sends the engine's ESP-in-UDP datagrams, IKE messages and keepalives. Throws `TypeError`
 * naming the option unless exactly one of `onDatagrams` / `onEsp` is given.
 *
 * @example
 * const bind = await udpBind({ address: '0.0.0.0' });
 * const wire = udpWire({ bind, drops: gw.drops, local: { v4: '198.51.100.1' },
 *   onDatagrams: (batch) => { const toTun: Uint8Array[] = []; for (const d of batch) processInbound(gw, d, toTun); tun.write(toTun); },
 *   onIke: (message, remote) => ike.receive(message, remote) });
 * tun.read((batch) => { const out: Uint8Array[] = []; for (const p of batch) processOutbound(gw, p, out); wire.send(out); });
 */
export function udpWire(options: UdpWireOptions): UdpWire {
  const { bind, onDatagrams, onEsp, onIke, onKeepalive } = options;
  if ((onDatagrams === undefined) === (onEsp === undefined)) throw new TypeError('onDatagrams: give exactly one of onDatagrams and onEsp');
  for (const [name, f] of [['onDatagrams', onDatagrams], ['onEsp', onEsp], ['onIke', onIke], ['onKeepalive', onKeepalive]] as const) {
    if (f !== undefined && typeof f !== 'function') throw new TypeError(`${name}: must be a function`);
  }
  if (options.local?.v4 !== undefined && addressBytes(options.local.v4)?.length !== 4) throw new TypeError(`local.v4: must be an IPv4 literal, got ${options.local.v4}`);
  if (options.local?.v6 !== undefined && addressBytes(options.local.v6)?.length !== 16) throw new TypeError(`local.v6: must be an IPv6 literal, got ${options.local.v6}`);
  const drops = options.drops ?? new DropCounters();
  const counters: UdpWireCounters = { espIn: 0, ikeIn: 0, keepalivesIn: 0, droppedIn: 0, espOut: 0, ikeOut: 0, keepalivesOut: 0, droppedOut: 0, callbackErrors: 0 };

  // The local address per family: the bind's own, or the configured one when it is a wildcard.
  const bound = addressBytes(bind.localAddress);
  const wildcard = bound === undefined || bound.every((b) => b === 0);
  const localFor = (family: 4 | 6): { text: string; bytes: Uint8Array } | undefined => {
    if (!wildcard) return bound!.length === (family === 4 ? 4 : 16) ? { text: bind.localAddress, bytes: bound! } : undefined;
    const text = family === 4 ? options.local?.v4 : options.local?.v6;
    const bytes = text === undefined ? undefined : addressBytes(text);
    return text !== undefined && bytes !== undefined && bytes.length === (family === 4 ? 4 : 16) ? { text, bytes } : undefined;
  };
  const local4 = localFor(4);
  const local6 = localFor(6);

  const dropIn = (reason: DropReason): void => {
    counters.droppedIn++;
    drops.count(reason);
  };
  const guarded = (f: () => void): void => {
    try {
      f();
    } catch {
      counters.callbackErrors++;
    }
  };

  bind.onReceive((batch) => {
    const datagrams: Uint8Array[] = [];
    const esps: EspInUdp[] = [];
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      const c = classifyUdpEncap(d.data);
      if (c.kind === 'esp') {
        const remoteBytes = addressBytes(d.address);
        const here = remoteBytes?.length === 4 ? local4 : remoteBytes?.length === 16 ? local6 : undefined;
        if (remoteBytes === undefined || here === undefined) {
          dropIn('unsupported');
          continue;
        }
        const remote = { address: d.address, port: d.port };
        const local = { address: here.text, port: bind.localPort };
        if (onEsp !== undefined) {
          esps.push({ esp: c.esp, remote, local, dst: here.bytes, src: remoteBytes });
        } else {
          const r = ipDatagramOf(d.data, remote, local);
          if (!r.ok) {
            dropIn(r.reason);
            continue;
          }
          datagrams.push(r.packet);
        }
        counters.espIn++;
      } else if (c.kind === 'ike') {
        // RFC 3948 §2.2: behind the non-ESP marker is an IKE message (RFC 7296 §3.1: 28-octet header at least).
        if (c.ike.length < IKE_HEADER) {
          dropIn('truncated');
          continue;
        }
        if (onIke === undefined) {
          dropIn('notIpsec');
          continue;
        }
        counters.ikeIn++;
        const here = (d.address.includes(':') ? local6 : local4)?.text ?? bind.localAddress;
        guarded(() => onIke(c.ike, { address: d.address, port: d.port }, { address: here, port: bind.localPort }));
      } else if (c.kind === 'keepalive') {
        // RFC 3948 §2.3: a NAT-keepalive; the receiver ignores it (beyond telling IKE, if it asks).
        counters.keepalivesIn++;
        if (onKeepalive !== undefined) {
          const here = (d.address.includes(':') ? local6 : local4)?.text ?? bind.localAddress;
          guarded(() => onKeepalive({ address: d.address, port: d.port }, { address: here, port: bind.localPort }));
        }
      } else {
        dropIn(c.reason);
      }
    }
    if (datagrams.length > 0) guarded(() => onDatagrams!(datagrams));
    if (esps.length > 0) guarded(() => onEsp!(esps));
  });

  return {
    bind,
    drops,
    counters,
    send(packets) {
      if (bind.closed) throw bindClosed(bind.localAddress, bind.localPort);
      const out: Datagram[] = [];
      for (let i = 0; i < packets.length; i++) {
        const r = wireDatagramOf(packets[i]!);
        if (r.ok) out.push(r);
        else {
          counters.droppedOut++;
          drops.count(r.reason);
        }
      }
      if (out.length === 0) return;
      counters.espOut += out.length;
      bind.send(out);
    },
    sendIke(message, to) {
      // RFC 3948 §2.2 / RFC 7296 §2.23: on port 4500, IKE goes behind four zero octets.
      const data = new Uint8Array(NON_ESP_MARKER + message.length);
      data.set(message, NON_ESP_MARKER);
      bind.send([{ data, address: to.address, port: to.port }]);
      counters.ikeOut++;
    },
    sendKeepalive(to) {
      // RFC 3948 §2.3: the NAT-keepalive packet is one octet, 0xFF.
      bind.send([{ data: Uint8Array.of(NAT_KEEPALIVE_OCTET), address: to.address, port: to.port }]);
      counters.keepalivesOut++;
    },
  };
}
