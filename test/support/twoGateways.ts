/**
 * Two gateways in one process joined by an in-memory wire with a delay (packets in flight), each
 * with its own event store and key store, keyed by the manual-keying twin. Shared by the control
 * plane tests.
 */
import { SimulatedClock, type InspectionEvent, type Observer } from 'xstate';
import { factLog, readLog } from '../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import type { EventStore } from '../../adapters/eventStore/types.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { seededRandom } from '../../adapters/random/random.js';
import { ENCR, INTEG } from '../../engine/crypto/transformIds.js';
import { IPPROTO } from '../../engine/packet/ipProtocol.js';
import { writeIpv4Header } from '../../engine/packet/ipv4.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import { Spd } from '../../engine/spd/spd.js';
import type { Policy, ProtectParams } from '../../engine/spd/types.js';
import type { SaLifetimes } from '../../engine/sad/types.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { manualKeying } from '../../machines/keyManager/manualKeying.js';
import type { FactLog, KeyManager } from '../../machines/ports.js';
import type { OffloadNic } from '../../adapters/nic/types.js';
import { processInbound, processOutbound, type FilterHooks, type SaMissHandler } from '../../streams/pipelines.js';

export const T0 = Date.parse('2026-11-22T00:00:00Z');
const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;
const prefix = (t: string, length: number) => ({ kind: 'prefix' as const, address: ip(t), length });
const ANY = { kind: 'any' as const };

function policies(side: 'a' | 'b', lifetimes: SaLifetimes, offload: 'none' | 'prefer' = 'none'): Policy[] {
  const [local, remote] = side === 'a' ? ['10.1.0.0', '10.2.0.0'] : ['10.2.0.0', '10.1.0.0'];
  const [me, peer] = side === 'a' ? ['192.0.2.1', '192.0.2.2'] : ['192.0.2.2', '192.0.2.1'];
  const sel = { localAddress: prefix(local, 16), remoteAddress: prefix(remote, 16), protocol: ANY, localPort: ANY, remotePort: ANY };
  const protect = (src: string, dst: string): ProtectParams => ({ protocol: 'esp', mode: 'tunnel', tunnel: { src: ip(src), dst: ip(dst) }, lifetimes, replayWindow: 128, esn: true, offload, proposals: [{ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE }] });
  return [
    { id: `${side}-out`, priority: 10, direction: 'outbound', selectors: [sel], action: 'protect', protect: protect(me, peer) },
    { id: `${side}-in`, priority: 10, direction: 'inbound', selectors: [sel], action: 'protect', protect: protect(peer, me) },
  ];
}

/** An IPv4 UDP packet src → dst whose payload is `n` (4 octets) and `size` - 32 zeros. */
export function udp(src: string, dst: string, n: number, size = 100): Uint8Array {
  const p = new Uint8Array(size);
  writeIpv4Header(p, 0, { totalLength: size, protocol: IPPROTO.UDP, src: ip(src), dst: ip(dst), identification: n & 0xffff, dontFragment: true });
  const v = new DataView(p.buffer);
  v.setUint16(20, 5000);
  v.setUint16(22, 6000);
  v.setUint16(24, size - 20);
  v.setUint32(28, n);
  return p;
}
export const seqOf = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(28);

export interface Side {
  gateway: Gateway;
  store: EventStore;
  km: KeyManager;
  /** Packets delivered to this side's TUN, in order. */
  delivered: Uint8Array[];
  /** Default: the gateway's acquire manager; null: SA misses are `noSa` drops. */
  miss?: SaMissHandler | null;
  hooks: FilterHooks;
}

export function twoGateways(options: { lifetimes: SaLifetimes; seed?: number; checkpointEveryPackets?: number; drainMs?: number; latencyTicks?: number; ikeLifetimes?: { softMs?: number; hardMs?: number }; nicA?: OffloadNic; offloadA?: { fipsMode?: boolean; trusted?: boolean }; inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) }) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const random = seededRandom(options.seed ?? 7);
  const stores = { a: memoryEventStore(), b: memoryEventStore() };
  const keyStores = { a: memoryKeyStore(), b: memoryKeyStore() };
  /** Invariant breaches seen by the instrumented data path (the property tests assert none). */
  const violations: string[] = [];
  /** SAs whose SaInstalled is durable and that have no durable SaDeleted, per side. */
  const durablyLive = { a: new Set<string>(), b: new Set<string>() };
  const trackingLog = (name: 'a' | 'b'): FactLog => {
    const inner = factLog(stores[name]);
    return {
      read: (stream) => inner.read(stream),
      async append(stream, facts, expectedVersion) {
        await inner.append(stream, facts, expectedVersion);
        for (const f of facts) {
          if (f.type === 'SaInstalled') durablyLive[name].add(stream.slice(3));
          if (f.type === 'SaDeleted') durablyLive[name].delete(stream.slice(3));
        }
      },
    };
  };
  const newGateway = (name: 'a' | 'b') => {
    const withNic = name === 'a' && options.nicA !== undefined;
    const gw = new Gateway({ name, deps: { clock, random, log: trackingLog(name) }, keys: keyStores[name], spd: new Spd(policies(name, options.lifetimes, withNic ? 'prefer' : 'none')), ...(withNic ? { nic: options.nicA!, ...(options.offloadA ? { offload: options.offloadA } : {}) } : {}), checkpointEveryPackets: options.checkpointEveryPackets ?? 1000, lifecycle: { drainMs: options.drainMs ?? 5_000 }, ...(options.inspect ? { inspect: options.inspect } : {}) });
    // (a) no packet is encrypted with a dead or half-installed SA.
    const metered = gw.metered.bind(gw);
    gw.metered = (sa) => {
      if (sa.config.direction === 'outbound' && !durablyLive[name].has(sa.config.id)) violations.push(`${name}: sealed with ${sa.config.id}, not durably live (${gw.state(sa.config.id)?.status})`);
      metered(sa);
    };
    return gw;
  };
  const A = { store: stores.a, gateway: newGateway('a') };
  const B = { store: stores.b, gateway: newGateway('b') };
  const template = { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE, esn: true, replayWindow: 128, lifetimes: options.lifetimes, ...(options.ikeLifetimes ? { ikeLifetimes: options.ikeLifetimes } : {}) } as const;
  const kmSides = {
    a: { gateway: A.gateway, address: '192.0.2.1', outPolicyId: 'a-out', inPolicyId: 'a-in' },
    b: { gateway: B.gateway, address: '192.0.2.2', outPolicyId: 'b-out', inPolicyId: 'b-in' },
  };
  const km = manualKeying(kmSides.a, kmSides.b, template, random);
  A.gateway.keyManager = km.a;
  B.gateway.keyManager = km.b;
  const a: Side = { ...A, km: km.a, delivered: [], hooks: {} };
  const b: Side = { ...B, km: km.b, delivered: [], hooks: {} };
  // Packets an acquire held go out again once their SA is up.
  const wireReleases = (s: Side) => s.gateway.released$.subscribe((packets) => send(s, packets));
  wireReleases(a);
  wireReleases(b);
  /** Datagrams on the wire, one slot per tick of latency (in flight across a rekey). */
  const latencyTicks = options.latencyTicks ?? 3;
  const inFlight: Array<Array<{ to: Side; datagram: Uint8Array }>> = Array.from({ length: latencyTicks }, () => []);
  const send = (from: Side, packets: Uint8Array[]) => {
    const to = from === a ? b : a;
    const wire: Uint8Array[] = [];
    for (const p of packets) processOutbound(from.gateway, p, wire, from.miss === undefined ? from.gateway.acquires : from.miss);
    for (const d of wire) inFlight[latencyTicks - 1]!.push({ to, datagram: d.slice() });
  };
  const deliver = () => {
    const now = inFlight.shift()!;
    inFlight.push([]);
    for (const { to, datagram } of now) {
      // (b) every datagram that reaches the inbound side is delivered or a counted drop.
      const before = to.delivered.length + to.gateway.drops.total();
      processInbound(to.gateway, datagram, to.delivered, to.hooks);
      if (to.delivered.length + to.gateway.drops.total() !== before + 1) violations.push(`${to.gateway.name}: a datagram neither delivered nor counted`);
    }
  };
  /** Advances time by `ms`: timers fire, journals settle, then the wire delivers what was in flight. */
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await a.gateway.settled();
      await b.gateway.settled();
      await new Promise((r) => setImmediate(r));
    }
  };
  const tick = async (ms: number) => {
    clock.increment(ms);
    await settle();
    // What was sent before this tick arrives after its timers fired (a rekey may have completed).
    deliver();
    await settle();
  };
  /** Stops a side's gateway and builds a new one from its log and key store (a restart). */
  const restart = async (side: Side) => {
    await settle();
    const name = side === a ? 'a' : 'b';
    side.gateway.stop();
    const streams = new Set((await readLog(side.store)).map((l) => l.streamName));
    const ids = (prefix: string) => [...streams].filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
    const gw = newGateway(name);
    gw.keyManager = name === 'a' ? km.a : km.b;
    await gw.restoreIkeSas(ids('ike-'));
    await gw.restore(ids('sa-'));
    side.gateway = gw;
    kmSides[name].gateway = gw;
    wireReleases(side);
    await settle();
  };
  return { clock, random, a, b, send, deliver, tick, settle, restart, violations };
}
