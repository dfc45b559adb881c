/**
 * ESP data-path benchmark (`npm run bench`). For each cipher and packet size it first checks
 * correctness (round trip, node = noble = native byte for byte), then measures, in the same run:
 *   - our encapsulate / decapsulate, node, noble and native back ends (native when its addon is
 *     built: `npm run build:native`);
 *   - a bare node:crypto seal / open loop on the same bytes, no ESP framing;
 *   - `openssl speed` for the same cipher (the AEAD TLS-like sequence for GCM and ChaCha20;
 *     CBC + HMAC as the harmonic sum of `-evp aes-128-cbc` and `-hmac sha256`).
 * and prints ratios, never comparisons with constants. A second table measures the transform
 * alone for AES-128-GCM (issue 10's goal: native seal and open ≥ 50 % of `openssl speed -aead`
 * per core at 1400 B): `seal`/`open` one packet per call and `sealBatch`/`openBatch` 64 per call,
 * node and native, against `openssl speed -aead` (encrypt) and `-aead -decrypt` on the same
 * payload size. Flags: --quick (shorter cells), --no-noble, --no-native, --no-openssl,
 * --transform-only (the second table alone).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { toHex } from '../engine/bytes.js';
import { ENCR, INTEG } from '../engine/crypto/transformIds.js';
import { createEspTransform } from '../engine/crypto/espTransform.js';
import { nativeCryptoStatus } from '../engine/crypto/nativeBackend.js';
import type { CryptoBackendName, EspSuiteSpec, EspTransform } from '../engine/crypto/types.js';
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
const nativeStatus = nativeCryptoStatus();
const withNative = nativeStatus.available && !args.has('--no-native');
const BACKENDS: CryptoBackendName[] = ['node', ...(args.has('--no-noble') ? [] : ['noble' as const]), ...(withNative ? ['native' as const] : [])];

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

/** Round trip and node = noble = native, before anything is timed. */
function verify(c: Cipher, keys: EspSaConfig['keys'], inner: Uint8Array): void {
  const packets = (['node', 'noble', ...(withNative ? ['native' as const] : [])] as const).map((b) => {
    const out = createEspSa(config(c, b, keys, 'outbound'));
    const r = encapsulate(inner, out, standardIvSource((x) => x.fill(7)));
    if (!r.ok) throw new Error(`${c.label}: encapsulate dropped: ${r.reason}`);
    const inn = createEspSa(config(c, b, keys, 'inbound'));
    const back = decapsulate(r.packet.slice(), () => inn);
    if (!back.ok || toHex(back.packet) !== toHex(inner)) throw new Error(`${c.label} ${b}: round trip failed`);
    return toHex(r.packet);
  });
  if (packets.some((p) => p !== packets[0])) throw new Error(`${c.label}: the back ends' packets differ`);
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
console.log(nativeStatus.available ? `native back end: the addon over Node's ${nativeStatus.openssl}` : `native back end unavailable: ${nativeStatus.why}`);
if (!args.has('--transform-only')) console.log('Sizes are inner IPv4 packets (tunnel mode); pps = packets per second; ratios are measured in this run.\n');
const header = ['cipher', 'size', 'backend', 'encap pps', 'Gbit/s', 'decap pps', 'Gbit/s', 'bare seal', 'bare open', 'openssl', 'encap/bare', 'decap/bare', 'encap/openssl', 'bare/openssl'];
const rows: string[][] = [header];
let worstEncap = Infinity;
let worstDecap = Infinity;
for (const c of args.has('--transform-only') ? [] : CIPHERS) {
  const keys = { encKey: randomBytes(c.keyBytes), ...(c.integKeyBytes ? { integKey: randomBytes(c.integKeyBytes) } : {}) };
  for (const size of SIZES) {
    const inner = innerPacket(size);
    verify(c, keys, inner);
    const bare = c.bare(keys.encKey, keys.integKey, size);
    const ossl = opensslPps(c, size);
    const backends = BACKENDS;
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
if (rows.length > 1) for (const r of rows) console.log(r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
if (rows.length > 1) console.log(`\nnode back end, worst over all ciphers and sizes: encapsulate ${worstEncap.toFixed(2)} × bare seal, decapsulate ${worstDecap.toFixed(2)} × bare open (goal ≥ 0.80: framing, padding, replay and lookups cost ≤ 20 %).`);

// ---- The transform alone: AES-128-GCM seal/open, per packet and per batch, against openssl ----

const BATCH = 64;

/** Seal one packet per call over 64 buffers in turn, or 64 per sealBatch call. */
function sealCandidate(t: EspTransform, size: number, batch: boolean): Timed {
  const bufs = Array.from({ length: BATCH }, () => randomBytes(16 + size + 16) as Uint8Array);
  if (batch) return looped(() => t.sealBatch(bufs, BATCH, undefined), BATCH);
  let i = 0;
  return looped(() => t.seal(bufs[i++ & (BATCH - 1)]!, undefined));
}

/** Open a pool of sealed packets (copied back untimed each round), one per call or 64 per call. */
function openCandidate(t: EspTransform, pool: readonly Uint8Array[], batch: boolean): Timed {
  const copies = pool.map((p) => new Uint8Array(p.length));
  const chunks = Array.from({ length: copies.length / BATCH }, (_, k) => copies.slice(k * BATCH, (k + 1) * BATCH));
  const ok = new Uint8Array(BATCH);
  return rounds(
    () => copies.forEach((c, i) => c.set(pool[i]!)),
    () => {
      let n = 0;
      if (batch) {
        for (const chunk of chunks) {
          t.openBatch(chunk, BATCH, undefined, ok);
          for (let i = 0; i < BATCH; i++) n += ok[i]!;
        }
      } else {
        for (const c of copies) if (t.open(c, undefined)) n++;
      }
      if (n !== copies.length) throw new Error(`AES-128-GCM ${t.backend}: ${copies.length - n} packets failed to open while timing`);
      return n;
    },
  );
}

if (withNative) {
  console.log(`\nAES-128-GCM transform alone (seal/open of an ESP packet with a SIZE-octet payload), one packet per call and ${BATCH} per call; openssl = \`openssl speed -aead\` (open: with -decrypt) on SIZE octets, this run.`);
  const suite: EspSuiteSpec = { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE };
  const keys = { encKey: randomBytes(20) };
  const node = createEspTransform(suite, keys, 'node');
  const native = createEspTransform(suite, keys, 'native');
  const theader = ['size', 'op', 'node', 'native', `native×${BATCH}`, 'openssl', 'node/openssl', 'native/openssl', `×${BATCH}/openssl`];
  const trows: string[][] = [theader];
  const goal: string[] = [];
  for (const size of SIZES) {
    // The pool: distinct packets, sealed by node so the native open is checked against it too.
    const poolSize = Math.max(4, Math.min(64, Math.floor(4_000_000 / size / BATCH))) * BATCH;
    const pool = Array.from({ length: poolSize }, () => {
      const p = randomBytes(16 + size + 16) as Uint8Array;
      node.seal(p, undefined);
      return p;
    });
    const sealRates = interleaved([sealCandidate(node, size, false), sealCandidate(native, size, false), sealCandidate(native, size, true)], BUDGET_MS * 3);
    const openRates = interleaved([openCandidate(node, pool, false), openCandidate(native, pool, false), openCandidate(native, pool, true)], BUDGET_MS * 3);
    const osslPps = (extra: string[]) => {
      if (args.has('--no-openssl')) return undefined;
      const rate = opensslBytesPerSecond([...extra, '-aead', '-evp', 'aes-128-gcm'], size);
      return rate === undefined ? undefined : rate / size;
    };
    for (const [op, rates, ossl] of [['seal', sealRates, osslPps([])], ['open', openRates, osslPps(['-decrypt'])]] as const) {
      trows.push([String(size), op, fmt(rates[0]!), fmt(rates[1]!), fmt(rates[2]!), ossl ? fmt(ossl) : '-', ratio(rates[0], ossl), ratio(rates[1], ossl), ratio(rates[2], ossl)]);
      if (size === 1400) goal.push(`${op} ${ratio(rates[1], ossl)} (×${BATCH}: ${ratio(rates[2], ossl)})`);
    }
  }
  const tw = theader.map((_, i) => Math.max(...trows.map((r) => r[i]!.length)));
  for (const r of trows) console.log(r.map((cell, i) => (i < 2 ? cell.padEnd(tw[i]!) : cell.padStart(tw[i]!))).join('  '));
  console.log(`\nnative AES-128-GCM at 1400 B, × openssl per core: ${goal.join(', ')} (issue 10 goal ≥ 0.50, seal and open).`);
  native.dispose();
}
