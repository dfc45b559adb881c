/**
 * `npm start` until the gateway demo lands: a tour of the ESP engine. For every registered
 * suite it seals a real ICMP echo request in tunnel mode, opens it again on the receiving SA,
 * checks the bytes, and measures packets per second for ~100 ms; then it shows what a gateway
 * does with bad input: a tampered packet, a replayed one and an unknown SPI become counted
 * drops with their reasons, never exceptions.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { toHex } from '../engine/bytes.js';
import { ENCR_SPECS, INTEG_SPECS, encrSpec } from '../engine/crypto/suites.js';
import { INTEG, type EncrId, type IntegId } from '../engine/crypto/transformIds.js';
import type { CryptoBackendName, EspSuiteSpec } from '../engine/crypto/types.js';
import { DropCounters } from '../engine/dropReasons.js';
import { decapsulate } from '../engine/esp/decapsulate.js';
import { encapsulate } from '../engine/esp/encapsulate.js';
import { createEspSa, type EspSaConfig } from '../engine/esp/espSa.js';
import { standardIvSource } from '../engine/esp/ivSource.js';
import { internetChecksum } from '../engine/packet/checksum.js';
import { IPPROTO } from '../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../engine/packet/ipv4.js';

const backend = (process.argv.includes('--noble') ? 'noble' : 'node') as CryptoBackendName;
const ivs = standardIvSource((b) => webcrypto.getRandomValues(b));
const LAN_A = Uint8Array.of(10, 1, 0, 2);
const LAN_B = Uint8Array.of(10, 2, 0, 2);
const GW_A = Uint8Array.of(192, 0, 2, 1);
const GW_B = Uint8Array.of(192, 0, 2, 2);

/** An ICMP echo request from LAN A to LAN B with `size` octets of data. */
function ping(size: number): Uint8Array {
  const p = new Uint8Array(20 + 8 + size);
  writeIpv4Header(p, 0, { totalLength: p.length, protocol: IPPROTO.ICMP, src: LAN_A, dst: LAN_B, identification: 1 });
  p.set([8, 0, 0, 0, 0x12, 0x34, 0, 1], 20);
  for (let i = 0; i < size; i++) p[28 + i] = i & 0xff;
  const sum = internetChecksum(p, 20, p.length);
  p[22] = sum >> 8;
  p[23] = sum & 0xff;
  return p;
}

function suites(): EspSuiteSpec[] {
  const out: EspSuiteSpec[] = [];
  for (const [id, spec] of Object.entries(ENCR_SPECS)) {
    for (const bits of spec.keyBits) {
      const base = { encr: Number(id) as EncrId, ...(bits ? { encrKeyBits: bits } : {}) };
      if (spec.combinedIcv !== undefined) out.push({ ...base, integ: INTEG.NONE });
      else for (const integ of Object.keys(INTEG_SPECS).map(Number) as IntegId[]) out.push({ ...base, integ });
    }
  }
  return out;
}

function pair(suite: EspSuiteSpec, spi: number) {
  const { spec, keyBits } = encrSpec(suite.encr, suite.encrKeyBits);
  const keys = {
    encKey: randomBytes(keyBits / 8 + spec.saltLength),
    ...(suite.integ === INTEG.NONE ? {} : { integKey: randomBytes(INTEG_SPECS[suite.integ as 1].keyLength) }),
  };
  const common: Omit<EspSaConfig, 'id' | 'direction'> = { spi, suite, keys, backend, mode: 'tunnel', tunnel: { src: GW_A, dst: GW_B } };
  return { out: createEspSa({ ...common, id: `sa-${spi.toString(16)}-out`, direction: 'outbound' }), in: createEspSa({ ...common, id: `sa-${spi.toString(16)}-in`, direction: 'inbound' }) };
}

const started = performance.now();
console.log(`ipsec-es engine tour · ESP tunnel mode, IPv4 · ${backend} crypto back end${backend === 'node' ? ' (--noble for the portable one)' : ''}\n`);
console.log('suite'.padEnd(24), 'inner → wire   overhead   round trip   seal+open pps (1400 B)');
const drops = new DropCounters();
let spi = 0x1000;
for (const suite of suites()) {
  const sa = pair(suite, spi++);
  const inner = ping(56);
  const sealed = encapsulate(inner, sa.out, ivs);
  if (!sealed.ok) throw new Error(`${sa.out.transform.name}: ${sealed.reason}`);
  const wireLength = sealed.packet.length;
  const opened = decapsulate(sealed.packet, () => sa.in, drops);
  const same = opened.ok && toHex(opened.packet) === toHex(inner);
  // Throughput: seal and open 1400-byte packets for ~100 ms.
  const big = ping(1372);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < (backend === 'noble' ? 40 : 100)) {
    const r = encapsulate(big, sa.out, ivs);
    if (r.ok && decapsulate(r.packet, () => sa.in, drops).ok) n++;
  }
  const pps = n / ((performance.now() - t0) / 1000);
  console.log(sa.out.transform.name.padEnd(24), `${String(inner.length).padStart(5)} → ${String(wireLength).padEnd(5)}  ${String(wireLength - inner.length).padStart(5)} B   ${same ? 'ok        ' : 'MISMATCH  '}   ${Math.round(pps).toLocaleString('en').padStart(8)}`);
  if (!same) process.exitCode = 1;
}

console.log('\nBad input is a counted drop with a reason, never an exception:');
const demo = pair({ encr: 20, encrKeyBits: 128, integ: INTEG.NONE }, 0x2000);
const sealed = encapsulate(ping(56), demo.out, ivs);
if (!sealed.ok) throw new Error(sealed.reason);
const tampered = sealed.packet.slice();
tampered[tampered.length - 20]! ^= 0x01;
const copy = sealed.packet.slice();
for (const [label, packet, lookup] of [
  ['a tampered packet', tampered, () => demo.in],
  ['the genuine packet', sealed.packet, () => demo.in],
  ['the same packet again', copy, () => demo.in],
  ['a packet for an SPI nobody has', sealed.packet.slice(), () => undefined],
  ['three bytes of noise', Uint8Array.of(0x45, 0, 3), () => demo.in],
] as const) {
  const r = decapsulate(packet as Uint8Array, lookup, drops);
  console.log(`  ${label.padEnd(32)} → ${r.ok ? `delivered (${r.packet.length} B inner packet)` : `dropped: ${r.reason}`}`);
}
const counted = Object.entries(drops.global).filter(([, n]) => n > 0);
console.log(`  drop counters: ${counted.map(([k, n]) => `${k}=${n}`).join(', ')}; per SA ${demo.in.id}: ${Object.entries(drops.forSa(demo.in.id)).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(', ')}`);
console.log(`\nEngine tour done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
await import('./controlPlaneTour.js');
console.log('Next: `npm test` (vectors, properties, fuzz, machines) and `npm run bench` (ratios against openssl speed).');
