/**
 * Two embedded gateways joined by an in-memory wire, keyed by `manualKeying` (the in-process
 * twin of IKE): gateway A from examples/site-to-site.xml, B from its mirror image. Used by the
 * examples; embedGateway.ts shows the same steps one by one.
 */
import { fileURLToPath } from 'node:url';
// In your project: 'ipsec-es/adapters', 'ipsec-es/adapters/policyFile', 'ipsec-es/engine', 'ipsec-es/machines'.
import { factLog, memoryKeyStore, systemClock, cryptoRandom, type EventStore } from '../../adapters/index.js';
import { loadPolicyFile } from '../../adapters/policyFile/loader.js';
import { Spd, IPPROTO, writeIpv4Header, type Policy } from '../../engine/index.js';
import { parseIpAddress } from '../../engine/policy/index.js';
import { createGateway, manualKeying, type Gateway } from '../../machines/index.js';
import { processInbound, processOutbound } from '../../streams/pipelines.js';

/** B's policies: A's with local and remote swapped. */
export function mirror(p: Policy): Policy {
  const selectors = p.selectors.map((s) => ({ ...s, localAddress: s.remoteAddress, remoteAddress: s.localAddress, localPort: s.remotePort, remotePort: s.localPort }));
  const protect = p.protect?.tunnel ? { ...p.protect, tunnel: { src: p.protect.tunnel.dst, dst: p.protect.tunnel.src } } : p.protect;
  return { ...p, id: p.id.replace('a-b', 'b-a'), selectors, ...(protect ? { protect } : {}) };
}

/** A UDP packet of 100 bytes from `src` to `dst` (port 5001), its payload starting with `n`. */
export function udpPacket(src: string, dst: string, n: number): Uint8Array {
  const p = new Uint8Array(100);
  const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;
  writeIpv4Header(p, 0, { totalLength: p.length, protocol: IPPROTO.UDP, src: ip(src), dst: ip(dst), identification: n & 0xffff });
  const v = new DataView(p.buffer);
  v.setUint16(20, 40000);
  v.setUint16(22, 5001);
  v.setUint16(24, p.length - 20);
  v.setUint32(28, n);
  return p;
}

/**
 * @example
 * const { a, b } = await gatewayPair(storeA, storeB);
 */
export async function gatewayPair(storeA: EventStore, storeB: EventStore): Promise<{ a: Gateway; b: Gateway }> {
  const file = await loadPolicyFile(fileURLToPath(new URL('../site-to-site.xml', import.meta.url)));
  const a = createGateway({ name: 'A', deps: { clock: systemClock, random: cryptoRandom, log: factLog(storeA) }, keys: memoryKeyStore(), spd: new Spd(file.policies) });
  const b = createGateway({ name: 'B', deps: { clock: systemClock, random: cryptoRandom, log: factLog(storeB) }, keys: memoryKeyStore(), spd: new Spd(file.policies.map(mirror)) });
  const protect = file.policies.find((p) => p.id === 'lan-a-b:out')!.protect!;
  if (protect.protocol !== 'esp') throw new Error('the example protects with ESP');
  const suite = protect.proposals[0]!;
  const km = manualKeying(
    { gateway: a, address: '192.0.2.1', outPolicyId: 'lan-a-b:out', inPolicyId: 'lan-a-b:in' },
    { gateway: b, address: '198.51.100.2', outPolicyId: 'lan-b-a:out', inPolicyId: 'lan-b-a:in' },
    { encr: suite.encr, ...(suite.encrKeyBits ? { encrKeyBits: suite.encrKeyBits } : {}), integ: suite.integ, esn: protect.esn, replayWindow: protect.replayWindow, lifetimes: protect.lifetimes, ikeLifetimes: { softMs: 3_600_000, hardMs: 4_000_000 } },
    cryptoRandom,
  );
  a.keyManager = km.a;
  b.keyManager = km.b;
  return { a, b };
}

/**
 * The wire from A to B (embedGateway.ts writes it out step by step): `toB` sends packets through
 * A's data path and B's, `delivered` is what B let through, and the packets an ACQUIRE held go
 * out once their SA is up. `close()` unplugs it.
 *
 * @example
 * const w = wireAtoB(a, b); w.toB([udpPacket('10.1.0.5', '10.2.0.7', 1)]); ...; w.close();
 */
export function wireAtoB(a: Gateway, b: Gateway): { toB(packets: Uint8Array[]): void; delivered: Uint8Array[]; close(): void } {
  const delivered: Uint8Array[] = [];
  const toB = (packets: Uint8Array[]) => {
    const wire: Uint8Array[] = [];
    for (const p of packets) processOutbound(a, p, wire);
    for (const d of wire) processInbound(b, d, delivered);
  };
  const released = a.released$.subscribe(toB);
  return { toB, delivered, close: () => released.unsubscribe() };
}
