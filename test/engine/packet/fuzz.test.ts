/**
 * Fuzz loop over every parser of engine/packet with a fixed seed (reproducible): random bytes
 * and mutations of valid packets (bit flips, truncation, extension, length fields set to
 * extremes, checksums repaired so the mutation reaches the layers behind). Every call must
 * return (never throw), every drop must name a reason from DROP_REASONS, and every accepted
 * result must be self-consistent (views inside the input, lengths adding up).
 */

import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../engine/bytes.js';
import { DROP_REASONS, type DropReason } from '../../../engine/dropReasons.js';
import { internetChecksum } from '../../../engine/packet/checksum.js';
import { parseEspTrailer, readEspSeq, readEspSpi, writeEspTrailer } from '../../../engine/packet/espHeader.js';
import { parseIp } from '../../../engine/packet/ipPacket.js';
import { parseIpv4, writeIpv4Header } from '../../../engine/packet/ipv4.js';
import { parseIpv6, writeIpv6Header } from '../../../engine/packet/ipv6.js';
import { parseUdp, udpChecksum, writeUdpHeader } from '../../../engine/packet/udp.js';
import { classifyUdpEncap } from '../../../engine/packet/udpEncap.js';
import { concat, kernelPacket, rfc3602EspCases, rfc7634EspExample } from './vectors.js';
import { prng } from '../../support/random.js';

const SEED = 0x1b5ec0de;
const INPUTS = 120_000;


const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

function udpOverIpv4(payload: Uint8Array): Uint8Array {
  const src = Uint8Array.of(192, 0, 2, 1);
  const dst = Uint8Array.of(198, 51, 100, 7);
  const udp = new Uint8Array(8 + payload.length);
  writeUdpHeader(udp, 0, 4500, 4500, udp.length);
  udp.set(payload, 8);
  new DataView(udp.buffer).setUint16(6, udpChecksum(src, dst, udp));
  const ip = new Uint8Array(20 + udp.length);
  writeIpv4Header(ip, 0, { totalLength: ip.length, protocol: 17, src, dst });
  ip.set(udp, 20);
  return ip;
}

function ipv6WithChain(types: number[], upper: number, payload: Uint8Array): Uint8Array {
  const exts = types.map((type, i) => {
    const ext = new Uint8Array(type === 44 ? 8 : 8 * (1 + (i % 2)));
    ext[0] = types[i + 1] ?? upper;
    if (type !== 44) ext[1] = ext.length / 8 - 1;
    return ext;
  });
  const body = concat(...exts, payload);
  const out = new Uint8Array(40 + body.length);
  writeIpv6Header(out, 0, {
    payloadLength: body.length,
    nextHeader: types[0] ?? upper,
    src: new Uint8Array(16).fill(1),
    dst: new Uint8Array(16).fill(2),
  });
  out.set(body, 40);
  return out;
}

function espTrailer(payload: number, pad: number): Uint8Array {
  const plain = new Uint8Array(payload + pad + 2);
  writeEspTrailer(plain, payload, pad, 4);
  return plain;
}

/** Valid packets of every kind the parsers accept: the seeds of the mutations. */
function corpus(): Uint8Array[] {
  const esp = (spi: number) => concat(Uint8Array.of(spi >>> 24, 0, 0, spi & 0xff, 0, 0, 0, 1), randomBytes(40));
  const chacha = rfc7634EspExample();
  const kernel = ['udp4', 'udp4_options', 'udp4_frag1', 'udp4_frag2', 'udp6', 'udp6_hbh_dst', 'udp6_frag2'] as const;
  return [
    ...rfc3602EspCases().flatMap((v) =>
      [v.ip_packet, v.original_ip_header + v.original_data, v.pre_encryption].map(fromHex),
    ),
    ...[chacha.source_packet, chacha.esp_ip_packet, chacha.plaintext].map(fromHex),
    ...kernel.map(kernelPacket),
    udpOverIpv4(Uint8Array.of(0xff)),
    udpOverIpv4(concat(new Uint8Array(4), randomBytes(28))),
    udpOverIpv4(esp(0x01000001)),
    ipv6WithChain([0, 60, 43, 44, 60], 50, esp(0x100)),
    ipv6WithChain([43, 51], 17, randomBytes(30)),
    ipv6WithChain([60, 60, 60], 59, randomBytes(9)),
    espTrailer(10, 0),
    espTrailer(3, 255),
    espTrailer(0, 14),
  ];
}

/** Sets one length-like field to an extreme value, then (mostly) repairs the IPv4 checksum. */
function setLengthExtreme(bytes: Uint8Array): void {
  const n = bytes.length;
  if (n < 2) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, n);
  const value = pick([0, 1, 7, 8, 19, 20, 39, 40, n - 41, n - 40, n - 1, n, n + 1, 0x7fff, 0xffff]) & 0xffff;
  const version = bytes[0]! >> 4;
  switch (int(5)) {
    case 0: // IPv4 Total Length / IPv6 Payload Length
      if (n >= 6) view.setUint16(version === 6 ? 4 : 2, value);
      break;
    case 1: // IPv4 IHL
      bytes[0] = (bytes[0]! & 0xf0) | int(16);
      break;
    case 2: // an IPv6 Hdr Ext Len (or payload)
      if (n > 41) bytes[41] = pick([0, 1, 0xff]);
      break;
    case 3: // a UDP Length field behind IPv4 (24, 28) or IPv6 (44, 68), or at the start (4)
      view.setUint16(pick([4, 24, 28, 44, 68]) % (n - 1), value);
      break;
    default: // ESP Pad Length
      bytes[n - 2] = pick([0, 1, 2, 0xfe, 0xff, (n - 2) & 0xff, (n - 1) & 0xff]);
  }
  if (version === 4 && random() < 0.7) repairIpv4Checksum(bytes);
}

function repairIpv4Checksum(bytes: Uint8Array): void {
  const headerLength = ((bytes[0] ?? 0) & 0x0f) * 4;
  if (headerLength < 20 || headerLength > bytes.length) return;
  bytes[10] = 0;
  bytes[11] = 0;
  const c = internetChecksum(bytes, 0, headerLength);
  bytes[10] = c >> 8;
  bytes[11] = c & 0xff;
}

function mutate(seed: Uint8Array): Uint8Array {
  switch (int(6)) {
    case 0: {
      const out = seed.slice();
      for (let n = 1 + int(4); n > 0 && out.length > 0; n--) out[int(out.length)]! ^= 1 << int(8);
      if (random() < 0.5) repairIpv4Checksum(out);
      return out;
    }
    case 1:
      return seed.slice(0, int(seed.length + 1));
    case 2:
      return concat(seed, randomBytes(1 + int(32)));
    case 3: {
      const out = seed.slice();
      setLengthExtreme(out);
      return out;
    }
    case 4: {
      const out = seed.slice();
      for (let n = 1 + int(6); n > 0 && out.length > 0; n--) out[int(out.length)] = pick([0, 0xff, int(256)]);
      return out;
    }
    default: {
      const out = randomBytes(int(120));
      if (out.length > 0) out[0] = pick([0x45, 0x46, 0x4f, 0x60, 0x00, 0xff, out[0]!]);
      return out;
    }
  }
}

/** Places `bytes` at a random offset of a larger buffer, so views start anywhere. */
function atRandomOffset(bytes: Uint8Array): Uint8Array {
  const at = int(4);
  const host = new Uint8Array(at + bytes.length + int(3)).fill(0xa5);
  host.set(bytes, at);
  return host.subarray(at, at + bytes.length);
}

/** True when `view` lies inside `outer` (same buffer): a view, never a copy or an overrun. */
function inside(view: Uint8Array, outer: Uint8Array): boolean {
  return (
    view.buffer === outer.buffer &&
    view.byteOffset >= outer.byteOffset &&
    view.byteOffset + view.length <= outer.byteOffset + outer.length
  );
}

type Outcome = { ok: true } | { ok: false; reason: DropReason };

/** Runs every parser on `bytes`; `check` gets each outcome and a consistency test for ok ones. */
function runParsers(bytes: Uint8Array, check: (name: string, r: Outcome, consistent: () => boolean) => void) {
  const v4 = parseIpv4(bytes);
  check('parseIpv4', v4, () => {
    if (!v4.ok) return false;
    const { headerLength, totalLength } = v4.header;
    return (
      headerLength >= 20 &&
      v4.payload.length === totalLength - headerLength &&
      inside(v4.payload, bytes) &&
      internetChecksum(bytes, 0, headerLength) === 0
    );
  });

  const v6 = parseIpv6(bytes);
  check('parseIpv6', v6, () => {
    if (!v6.ok) return false;
    let at = 40; // the extensions must tile the bytes from the fixed header to upperOffset
    for (const e of v6.extensions) {
      if (e.offset !== at || e.length < 8) return false;
      at += e.length;
    }
    return (
      at === v6.upperOffset &&
      v6.packet.length === 40 + v6.header.payloadLength &&
      v6.upperOffset <= v6.packet.length &&
      v6.ipsecInsertOffset <= v6.upperOffset &&
      inside(v6.packet, bytes)
    );
  });

  const ip = parseIp(bytes);
  check('parseIp', ip, () => {
    if (!ip.ok) return false;
    return ip.payloadOffset + ip.payload.length === ip.packet.length && inside(ip.payload, bytes);
  });

  for (const udpBytes of ip.ok ? [bytes, ip.payload] : [bytes]) {
    const udp = parseUdp(udpBytes);
    check('parseUdp', udp, () => udp.ok && udp.payload.length === udp.length - 8 && inside(udp.payload, udpBytes));
    const encap = classifyUdpEncap(udp.ok ? udp.payload : udpBytes);
    const outcome: Outcome = encap.kind === 'invalid' ? { ok: false, reason: encap.reason } : { ok: true };
    check('classifyUdpEncap', outcome, () => {
      if (encap.kind !== 'esp') return true;
      return encap.esp.length >= 8 && readEspSpi(encap.esp) !== 0 && readEspSeq(encap.esp) >= 0;
    });
  }

  const trailer = parseEspTrailer(bytes);
  check('parseEspTrailer', trailer, () => {
    return trailer.ok && trailer.payloadLength + trailer.padLength + 2 === bytes.length;
  });
}

describe('fuzz: every packet parser, fixed seed', () => {
  it(`${INPUTS} inputs: no exception, reasons from DROP_REASONS, accepted results consistent`, () => {
    const reasons = new Set<string>(DROP_REASONS);
    const problems: string[] = [];
    const accepted: Record<string, number> = {};
    const seen = new Set<DropReason>();
    const seeds = corpus();
    let current: Uint8Array = new Uint8Array(0);
    const note = (what: string) => {
      if (problems.length < 20) problems.push(`${what} on ${toHex(current.subarray(0, 60))}...`);
    };
    const check = (name: string, r: Outcome, consistent: () => boolean) => {
      if (!r.ok) {
        if (!reasons.has(r.reason)) note(`${name}: unknown reason ${String(r.reason)}`);
        seen.add(r.reason);
        return;
      }
      accepted[name] = (accepted[name] ?? 0) + 1;
      if (!consistent()) note(`${name}: inconsistent result`);
    };

    for (let i = 0; i < INPUTS; i++) {
      current = atRandomOffset(i < seeds.length ? seeds[i]! : mutate(pick(seeds)));
      try {
        runParsers(current, check);
      } catch (error) {
        note(`exception ${String(error)}`);
      }
    }

    expect(problems).toEqual([]);
    // The mutations reach the accepting paths of every parser, not only the first checks.
    for (const name of ['parseIpv4', 'parseIpv6', 'parseIp', 'parseUdp', 'classifyUdpEncap', 'parseEspTrailer']) {
      expect(accepted[name] ?? 0, name).toBeGreaterThan(500);
    }
    expect([...seen].sort()).toEqual(['badChecksum', 'badPadding', 'malformed', 'truncated']);
  });
});
