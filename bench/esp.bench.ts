/**
 * ESP data-path benchmark (`npm run bench`). For each cipher and packet size it first checks
 * correctness (round trip, node = noble byte for byte), then measures, in the same run:
 *   - our encapsulate / decapsulate, node and noble back ends;
 *   - a bare node:crypto seal / open loop on the same bytes, no ESP framing;
 *   - `openssl speed` for the same cipher (the AEAD TLS-like sequence for GCM and ChaCha20;
 *     CBC + HMAC as the harmonic sum of `-evp aes-128-cbc` and `-hmac sha256`).
 * and prints ratios, never comparisons with constants. Flags: --quick (shorter cells),
 * --no-noble, --no-openssl.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { toHex } from '../engine/bytes.js';
import { ENCR, INTEG } from '../engine/crypto/transformIds.js';
import type { CryptoBackendName, EspSuiteSpec } from '../engine/crypto/types.js';
import { decapsulate } from '../engine/esp/decapsulate.js';
import { encapsulate } from '../engine/esp/encapsulate.js';
import { createEspSa, type EspSa, type EspSaConfig } from '../engine/esp/espSa.js';
import { standardIvSource } from '../engine/esp/ivSource.js';
import { IPPROTO } from '../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../engine/packet/ipv4.js';
import { interleaved, looped, opensslBytesPerSecond, opensslVersion, rounds, type Timed } from './lib/measure.js';

const args = new Set(process.argv.slice(2));
const BUDGET_MS = args.has('--quick') ? 120 : 300;
const SIZES = [64, 1400, 8900];
const fill = (b: Uint8Array) => void b.set(randomBytes(b.length));

interface Cipher {
  label: string;
  suite: EspSuiteSpec;
  keyBytes: number;
  integKeyBytes?: number;
  openssl: string[][];
  bare: (key: Uint8Array, integKey: Uint8Array | undefined, size: number) => { seal: () => void; open: () => void };
}

/** A bare AEAD seal/open per packet through node:crypto, KeyObject prepared once, as ESP does. */
function bareAead(name: string) {
  return (key: Uint8Array, _i: unknown, size: number) => {
    const k = createSecretKey(key.subarray(0, key.length - 4));
    const nonce = randomBytes(12);
    const aad = randomBytes(8);
    const pt = randomBytes(size);
    const c = createCipheriv(name as 'aes-128-gcm', k, nonce, { authTagLength: 16 });
    c.setAAD(aad);
    const ct = c.update(pt);
    c.final();
    const tag = c.getAuthTag();
    return {
      seal: () => {
        const e = createCipheriv(name as 'aes-128-gcm', k, nonce, { authTagLength: 16 });
        e.setAAD(aad);
        e.update(pt);
        e.final();
        e.getAuthTag();
      },
      open: () => {
        const d = createDecipheriv(name as 'aes-128-gcm', k, nonce, { authTagLength: 16 });
        d.setAAD(aad);
        d.setAuthTag(tag);
        d.update(ct);
        d.final();
      },
    };
  };
}

const CIPHERS: Cipher[] = [
  { label: 'AES-128-GCM', suite: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }, keyBytes: 20, openssl: [['-aead', '-evp', 'aes-128-gcm']], bare: bareAead('aes-128-gcm') },
  { label: 'AES-256-GCM', suite: { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE }, keyBytes: 36, openssl: [['-aead', '-evp', 'aes-256-gcm']], bare: bareAead('aes-256-gcm') },
  { label: 'ChaCha20-Poly1305', suite: { encr: ENCR.CHACHA20_POLY1305, integ: INTEG.NONE }, keyBytes: 36, openssl: [['-aead', '-evp', 'chacha20-poly1305']], bare: bareAead('chacha20-poly1305') },
  {
    label: 'AES-128-CBC+HMAC-SHA-256',
    suite: { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 },
    keyBytes: 16,
    integKeyBytes: 32,
    openssl: [['-evp', 'aes-128-cbc'], ['-hmac', 'sha256']],
    bare: (key, integKey, size) => {
      const k = createSecretKey(key);
      const ik = createSecretKey(integKey!);
      const iv = randomBytes(16);
      const pt = randomBytes(Math.ceil(size / 16) * 16);
      const c = createCipheriv('aes-128-cbc', k, iv).setAutoPadding(false);
      const ct = c.update(pt);
      return {
        seal: () => {
          const e = createCipheriv('aes-128-cbc', k, iv).setAutoPadding(false);
          const out = e.update(pt);
          e.final();
          createHmac('sha256', ik).update(out).digest();
        },
        open: () => {
          createHmac('sha256', ik).update(ct).digest();
          const d = createDecipheriv('aes-128-cbc', k, iv).setAutoPadding(false);
          d.update(ct);
          d.final();
        },
      };
    },
  },
];

function innerPacket(size: number): Uint8Array {
  const p = new Uint8Array(size);
  writeIpv4Header(p, 0, { totalLength: size, protocol: IPPROTO.UDP, src: Uint8Array.of(10, 1, 0, 2), dst: Uint8Array.of(10, 2, 0, 2) });
  p.set(randomBytes(size - 20), 20);
  return p;
}

function config(c: Cipher, backend: CryptoBackendName, keys: EspSaConfig['keys'], direction: 'inbound' | 'outbound'): EspSaConfig {
  return { id: `${direction}-${backend}`, direction, spi: 0x4242, suite: c.suite, keys, backend, mode: 'tunnel', tunnel: { src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2) } };
}

/** Round trip and node = noble, before anything is timed. */
function verify(c: Cipher, keys: EspSaConfig['keys'], inner: Uint8Array): void {
  const packets = (['node', 'noble'] as const).map((b) => {
    const out = createEspSa(config(c, b, keys, 'outbound'));
    const r = encapsulate(inner, out, standardIvSource((x) => x.fill(7)));
    if (!r.ok) throw new Error(`${c.label}: encapsulate dropped: ${r.reason}`);
    const inn = createEspSa(config(c, b, keys, 'inbound'));
    const back = decapsulate(r.packet.slice(), () => inn);
    if (!back.ok || toHex(back.packet) !== toHex(inner)) throw new Error(`${c.label} ${b}: round trip failed`);
    return toHex(r.packet);
  });
  if (packets[0] !== packets[1]) throw new Error(`${c.label}: node and noble packets differ`);
}

/** Encapsulation and decapsulation of one back end, as `Timed` candidates. */
function espCandidates(c: Cipher, backend: CryptoBackendName, keys: EspSaConfig['keys'], inner: Uint8Array): { encap: Timed; decap: Timed } {
  const out = createEspSa(config(c, backend, keys, 'outbound'));
  const ivs = standardIvSource(fill);
  const encap = looped(() => void encapsulate(inner, out, ivs));
  // Distinct packets, each decapsulated once per round by a fresh inbound SA (replay window on).
  const poolSize = Math.max(64, Math.min(2048, Math.floor(8_000_000 / inner.length)));
  const sender = createEspSa(config(c, backend, keys, 'outbound'));
  const pool = Array.from({ length: poolSize }, () => {
    const r = encapsulate(inner, sender, ivs);
    if (!r.ok) throw new Error(r.reason);
    return r.packet;
  });
  // The copies are made into the same buffers every round, so no garbage lands in the timed part.
  const copies = pool.map((p) => new Uint8Array(p.length));
  const decap = rounds(
    () => {
      copies.forEach((copy, i) => copy.set(pool[i]!));
      return { sa: createEspSa(config(c, backend, keys, 'inbound')), packets: copies };
    },
    (round: { sa: EspSa; packets: Uint8Array[] }) => {
      const lookup = () => round.sa;
      let ok = 0;
      for (const p of round.packets) if (decapsulate(p, lookup).ok) ok++;
      if (ok !== round.packets.length) throw new Error(`${c.label} ${backend}: ${round.packets.length - ok} packets dropped while timing`);
      return ok;
    },
  );
  return { encap, decap };
}

const fmt = (pps: number) => (pps >= 1e6 ? `${(pps / 1e6).toFixed(2)}M` : `${(pps / 1e3).toFixed(1)}k`);
const gbps = (pps: number, size: number) => ((pps * size * 8) / 1e9).toFixed(2);
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '  - ');

function opensslPps(c: Cipher, size: number): number | undefined {
  if (args.has('--no-openssl')) return undefined;
  // Several primitives (CBC then HMAC) cost the sum of their times per byte.
  let secondsPerByte = 0;
  for (const a of c.openssl) {
    const rate = opensslBytesPerSecond(a, size);
    if (rate === undefined) return undefined;
    secondsPerByte += 1 / rate;
  }
  return 1 / secondsPerByte / size;
}

console.log(`ipsec-es ESP benchmark · node ${process.version} · ${opensslVersion()} · ${BUDGET_MS} ms per cell`);
console.log('Sizes are inner IPv4 packets (tunnel mode); pps = packets per second; ratios are measured in this run.\n');
const header = ['cipher', 'size', 'backend', 'encap pps', 'Gbit/s', 'decap pps', 'Gbit/s', 'bare seal', 'bare open', 'openssl', 'encap/bare', 'decap/bare', 'encap/openssl', 'bare/openssl'];
const rows: string[][] = [header];
let worstEncap = Infinity;
let worstDecap = Infinity;
for (const c of CIPHERS) {
  const keys = { encKey: randomBytes(c.keyBytes), ...(c.integKeyBytes ? { integKey: randomBytes(c.integKeyBytes) } : {}) };
  for (const size of SIZES) {
    const inner = innerPacket(size);
    verify(c, keys, inner);
    const bare = c.bare(keys.encKey, keys.integKey, size);
    const ossl = opensslPps(c, size);
    const backends = args.has('--no-noble') ? (['node'] as const) : (['node', 'noble'] as const);
    const esp = backends.map((b) => espCandidates(c, b, keys, inner));
    // Seal side and open side, each interleaved with its bare reference; noble gets a shorter share.
    const seal = interleaved([looped(bare.seal), ...esp.map((e) => e.encap)], BUDGET_MS * (1 + backends.length));
    const open = interleaved([looped(bare.open), ...esp.map((e) => e.decap)], BUDGET_MS * (1 + backends.length));
    backends.forEach((backend, k) => {
      const encap = seal[k + 1]!;
      const decap = open[k + 1]!;
      if (backend === 'node') {
        worstEncap = Math.min(worstEncap, encap / seal[0]!);
        worstDecap = Math.min(worstDecap, decap / open[0]!);
      }
      rows.push([c.label, String(size), backend, fmt(encap), gbps(encap, size), fmt(decap), gbps(decap, size), fmt(seal[0]!), fmt(open[0]!), ossl ? fmt(ossl) : '-', ratio(encap, seal[0]), ratio(decap, open[0]), ratio(encap, ossl), ratio(seal[0], ossl)]);
    });
  }
}
const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
console.log(`\nnode back end, worst over all ciphers and sizes: encapsulate ${worstEncap.toFixed(2)} × bare seal, decapsulate ${worstDecap.toFixed(2)} × bare open (goal ≥ 0.80: framing, padding, replay and lookups cost ≤ 20 %).`);
