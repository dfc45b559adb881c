/**
 * Test-only loaders for the known-answer vectors (test/vectors, copied from shared/vectors with its README) and for the
 * kernel-built packets in ./fixtures (see fixtures/capture-kernel-packets.py), plus address
 * helpers. Nothing here calls the code under test.
 */

import { readFileSync } from 'node:fs';
import { fromHex } from '../../../engine/bytes.js';

const SHARED_VECTORS = new URL('../../vectors/', import.meta.url); // the in-repo copy of shared/vectors

/** One RFC 3602 §4 ESP packet case (cases 5-8). */
export interface Rfc3602EspCase {
  id: string;
  kind: 'esp-packet';
  mode: 'transport' | 'tunnel';
  spi: string;
  seq: string;
  source_address: string;
  destination_address: string;
  original_ip_header: string;
  original_data: string;
  payload_before_trailer: string;
  padding: string;
  pad_length: number;
  next_header: number;
  pre_encryption: string;
  outer_ip_header: string;
  esp_packet: string;
  ip_packet: string;
}

/** RFC 7634 Appendix A. */
export interface Rfc7634EspExample {
  spi: string;
  seq: string;
  source_packet: string;
  plaintext: string;
  esp_ip_packet: string;
}

function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, 'utf8'));
}

/** RFC 3602 cases 5-8 (full IPv4 ESP packets). */
export function rfc3602EspCases(): Rfc3602EspCase[] {
  const file = readJson(new URL('aes-cbc-rfc3602.json', SHARED_VECTORS)) as { vectors: { kind: string }[] };
  return file.vectors.filter((v) => v.kind === 'esp-packet') as Rfc3602EspCase[];
}

/** RFC 7634 Appendix A (tunnel-mode ChaCha20-Poly1305 ESP over IPv4). */
export function rfc7634EspExample(): Rfc7634EspExample {
  const file = readJson(new URL('chacha20poly1305-esp-rfc7634.json', SHARED_VECTORS)) as {
    esp_example: Rfc7634EspExample;
  };
  return file.esp_example;
}

/** Names of the kernel-built packets in fixtures/kernelPackets.json. */
export type KernelPacketName =
  | 'udp4'
  | 'udp4_options'
  | 'udp4_frag1'
  | 'udp4_frag2'
  | 'udp6'
  | 'udp6_hbh_dst'
  | 'udp6_frag1'
  | 'udp6_frag2';

/** A packet the Linux kernel built (every checksum computed by the kernel, not by us). */
export function kernelPacket(name: KernelPacketName): Uint8Array {
  const file = readJson(new URL('./fixtures/kernelPackets.json', import.meta.url)) as {
    packets: Record<KernelPacketName, string>;
  };
  return fromHex(file.packets[name]);
}

/** `'192.0.2.5'` → 4 octets. */
export function ipv4Address(dotted: string): Uint8Array {
  return new Uint8Array(dotted.split('.').map(Number));
}

/** `'fd00::1'` → 16 octets (the `::` forms used in these tests). */
export function ipv6Address(text: string): Uint8Array {
  const [head = '', tail] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reference one's complement sum, written differently from the code under test: the folded
 * 16-bit one's complement sum of words equals their plain sum modulo 0xffff, with 0xffff
 * standing for a non-zero multiple of 0xffff (RFC 1071 §1, §2 (D): end-around carries).
 */
export function referenceOnesSum(bytes: ArrayLike<number>): number {
  let total = 0n;
  for (let i = 0; i < bytes.length; i += 2) {
    total += BigInt(((bytes[i] ?? 0) << 8) + (bytes[i + 1] ?? 0));
  }
  if (total === 0n) return 0;
  const r = Number(total % 0xffffn);
  return r === 0 ? 0xffff : r;
}
