/**
 * Two gateways in one process, each keyed by its own IKEv2 daemon; IKE messages and ESP-in-UDP
 * datagrams cross an in-memory wire that can lose or hold messages. Time is a SimulatedClock, so
 * retransmissions and lifetimes run in test time.
 */
import { SimulatedClock } from 'xstate';
import { factLog, readLog } from '../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { seededRandom } from '../../adapters/random/random.js';
import { ENCR, INTEG } from '../../engine/crypto/transformIds.js';
import type { EspSuiteSpec } from '../../engine/crypto/types.js';
import { ID_TYPE } from '../../engine/ike/constants.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import { Spd } from '../../engine/spd/spd.js';
import type { Policy, ProtectParams } from '../../engine/spd/types.js';
import type { SaLifetimes } from '../../engine/sad/types.js';
import type { Fact } from '../../engine/events/fact.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { IkeDaemon, type IkePeerConfig } from '../../machines/ikeSa/ikeDaemon.js';
import type { IkeSuite } from '../../machines/ikeSa/proposals.js';
import { processInbound, processOutbound } from '../../streams/pipelines.js';
import { T0, udp } from './twoGateways.js';

export { udp, seqOf } from './twoGateways.js';

const ip = (t: string) => (parseIpAddress(t) as { ok: true; value: Uint8Array }).value;
const prefix = (t: string, length: number) => ({ kind: 'prefix' as const, address: ip(t), length });
const ANY = { kind: 'any' as const };
const utf8 = (s: string) => new TextEncoder().encode(s);

export const ADDR = { a: '192.0.2.1', b: '192.0.2.2' } as const;
export const GCM128: EspSuiteSpec = { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE };
export const CBC256_SHA256: EspSuiteSpec = { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128 };

function policies(side: 'a' | 'b', lifetimes: SaLifetimes, proposals: EspSuiteSpec[]): Policy[] {
  const [local, remote] = side === 'a' ? ['10.1.0.0', '10.2.0.0'] : ['10.2.0.0', '10.1.0.0'];
  const [me, peer] = side === 'a' ? [ADDR.a, ADDR.b] : [ADDR.b, ADDR.a];
  const sel = { localAddress: prefix(local, 16), remoteAddress: prefix(remote, 16), protocol: ANY, localPort: ANY, remotePort: ANY };
  const protect = (src: string, dst: string): ProtectParams => ({ protocol: 'esp', mode: 'tunnel', tunnel: { src: ip(src), dst: ip(dst) }, lifetimes, replayWindow: 128, esn: false, offload: 'none', proposals });
  return [
    { id: `${side}-out`, priority: 10, direction: 'outbound', selectors: [sel], action: 'protect', protect: protect(me, peer) },
    { id: `${side}-in`, priority: 10, direction: 'inbound', selectors: [sel], action: 'protect', protect: protect(peer, me) },
  ];
}

export interface IkePairOptions {
  lifetimes?: SaLifetimes;
  ikeLifetimes?: { softMs?: number; hardMs?: number };
  seed?: number;
  suitesA?: IkeSuite[];
  suitesB?: IkeSuite[];
  espA?: EspSuiteSpec[];
  espB?: EspSuiteSpec[];
  pskA?: string;
  pskB?: string;
  cookieThresholdB?: number;
  dpdMs?: number;
}

export const X25519_GCM: IkeSuite = { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE, prf: 5, dh: 31 };
export const P256_CBC: IkeSuite = { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128, prf: 5, dh: 19 };
export const MODP2048_CBC: IkeSuite = { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128, prf: 5, dh: 14 };

/**
 * @example
 * const lab = ikePair();
 * lab.a.send([udp('10.1.0.5', '10.2.0.7', 1)]); await lab.run(100);
 */
export function ikePair(options: IkePairOptions = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const random = seededRandom(options.seed ?? 11);
  const lifetimes = options.lifetimes ?? { soft: { timeMs: 3_600_000 }, hard: { timeMs: 4_000_000 } };
  /** A filter on IKE messages in flight: return false to lose it. */
  let ikeFilter: (from: 'a' | 'b', bytes: Uint8Array, n: number) => boolean = () => true;
  let ikeCount = 0;
  /** Messages matching `holding` wait in `held` until `releaseIke()`: exchanges that cross. */
  let holding: (from: 'a' | 'b', bytes: Uint8Array) => boolean = () => false;
  const held: Array<() => void> = [];
  /** NAT-keepalives each side sent (RFC 3948 §4): when, and to whom. */
  const keepalives: Record<'a' | 'b', Array<{ at: number; to: { address: string; port: number } }>> = { a: [], b: [] };
  const ikeLog: Array<{ from: 'a' | 'b'; bytes: Uint8Array; lost: boolean }> = [];
  const side = (name: 'a' | 'b') => {
    const store = memoryEventStore();
    const gateway = new Gateway({ name, deps: { clock, random, log: factLog(store) }, keys: memoryKeyStore(), spd: new Spd(policies(name, lifetimes, (name === 'a' ? options.espA : options.espB) ?? [GCM128])), checkpointEveryMs: 0, lifecycle: { drainMs: 2_000 } });
    const me = name === 'a' ? ADDR.a : ADDR.b;
    const other = name === 'a' ? ADDR.b : ADDR.a;
    const peer: IkePeerConfig = {
      name: 'conn',
      local: { address: me, id: { idType: ID_TYPE.FQDN, data: utf8(`gw-${name}.test`) } },
      remote: { address: other, id: { idType: ID_TYPE.FQDN, data: utf8(`gw-${name === 'a' ? 'b' : 'a'}.test`) } },
      psk: utf8((name === 'a' ? options.pskA : options.pskB) ?? 'a shared secret of some length'),
      ikeSuites: (name === 'a' ? options.suitesA : options.suitesB) ?? [X25519_GCM],
      ...(options.ikeLifetimes ? { ikeLifetimes: options.ikeLifetimes } : {}),
      children: [{ name: 'net', outPolicyId: `${name}-out`, inPolicyId: `${name}-in` }],
    };
    const ike = new IkeDaemon({
      gateway, deps: { clock, random, log: factLog(store) }, peers: [peer],
      transport: { send: (bytes, to) => ikeSend(name, bytes.slice(), to), keepalive: (to) => keepalives[name].push({ at: clock.now(), to }) },
      ...(name === 'b' && options.cookieThresholdB !== undefined ? { cookieThreshold: options.cookieThresholdB } : {}),
      ...(options.dpdMs ? { dpdMs: options.dpdMs } : {}),
    });
    gateway.keyManager = ike;
    return { name, store, gateway, ike, delivered: [] as Uint8Array[], address: me };
  };
  const a = side('a');
  const b = side('b');
  type Side = typeof a;
  const sides = { a, b };
  const ikeSend = (from: 'a' | 'b', bytes: Uint8Array, to: { address: string; port: number }) => {
    const n = ikeCount++;
    const lost = !ikeFilter(from, bytes, n);
    ikeLog.push({ from, bytes, lost });
    if (lost) return;
    const target = to.address === ADDR.a ? a : b;
    const deliver = () => target.ike.receive(bytes, { address: from === 'a' ? ADDR.a : ADDR.b, port: 4500 }, true);
    if (holding(from, bytes)) held.push(deliver);
    else queueMicrotask(deliver);
  };
  const wire = (from: Side, packets: Uint8Array[]) => {
    const to = from === a ? b : a;
    const out: Uint8Array[] = [];
    for (const p of packets) processOutbound(from.gateway, p, out);
    for (const d of out) processInbound(to.gateway, d.slice(), to.delivered);
  };
  a.gateway.released$.subscribe((p) => wire(a, p));
  b.gateway.released$.subscribe((p) => wire(b, p));
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      await a.gateway.settled();
      await b.gateway.settled();
      await new Promise((r) => setImmediate(r));
    }
  };
  /** Advances test time in steps of `stepMs`, letting messages and journals settle between. */
  const run = async (ms: number, stepMs = 100) => {
    await settle();
    for (let t = 0; t < ms; t += stepMs) {
      clock.increment(Math.min(stepMs, ms - t));
      await settle();
    }
  };
  const facts = async (s: Side, prefixOf: string): Promise<Array<{ stream: string; fact: Fact }>> =>
    (await readLog(s.store)).filter((l) => l.streamName.startsWith(prefixOf)).map((l) => ({ stream: l.streamName, fact: l.fact }));
  const liveSas = (s: Side) => s.gateway.saIds().filter((id) => { const st = s.gateway.state(id)?.status; return st === 'mature' || st === 'rekeying'; });
  return {
    clock, random, a, b, sides, wire, run, settle, facts, liveSas, ikeLog, keepalives,
    loseIke: (f: typeof ikeFilter) => { ikeFilter = f; },
    /** Holds IKE messages `f` picks (from then on) until `releaseIke()`. */
    holdIke: (f: typeof holding) => { holding = f; },
    /** Stops holding and delivers what was held, in the order sent. */
    releaseIke: () => { holding = () => false; for (const d of held.splice(0)) queueMicrotask(d); },
    heldIke: () => held.length,
    send: (s: Side, packets: Uint8Array[]) => wire(s, packets),
    udp,
  };
}
