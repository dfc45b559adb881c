/**
 * One of our IKE processes for `bench/ike.bench.ts`: a Gateway (SPD, SAD, machines, the event
 * log) keyed by the IkeDaemon, on a real UDP socket (port 4500, IKE behind the non-ESP marker,
 * the native bind when the addon is built, node:dgram otherwise), as the gateway runs it; no TUN
 * (no traffic is sent: the benchmark is the handshake).
 *
 * The initiator has `--conns` connection entries per proposal, identical but for their names
 * (`p0#0`, `p0#1`, …): the daemon runs one IKE SA set-up per connection at a time, so C of them
 * give C handshakes in flight. The responder has one, with every proposal.
 *
 * Usage (root, in the process's namespace):
 *   node --import tsx bench/lib/ikePeerMain.ts --role initiator|responder --local A --remote B
 *     --ike aes256gcm16-prfsha256-curve25519[,aes256-sha256-modp2048] --esp aes256gcm16 [--conns 8] [--log file|memory] [--dir D]
 * Commands on stdin, one JSON object a line; answers on stdout, one JSON object a line:
 *   {"cmd":"run","n":200,"ms":3000,"c":8,"p":0}  → {"event":"result", ok, failed, ms, latencyMs:{p50,p90,max}, errors}
 *     (initiator: handshakes with proposal p until n are done or ms have passed, c at a time,
 *     each IKE SA deleted once it is up)
 *   {"cmd":"status"}             → {"event":"status", ikeSas, liveChildSas, saRecords, rssMb, counters}
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { systemClock } from '../../adapters/clock/systemClock.js';
import { factLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { memoryEventStore } from '../../adapters/eventStore/memory/memoryEventStore.js';
import type { EventStore } from '../../adapters/eventStore/types.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { cryptoRandom } from '../../adapters/random/random.js';
import { nativeUdpBind } from '../../adapters/udp/nativeUdpBind.js';
import { udpBind } from '../../adapters/udp/udpBind.js';
import { udpWire } from '../../adapters/udp/wire.js';
import { ENCR, INTEG } from '../../engine/crypto/transformIds.js';
import type { EspSuiteSpec } from '../../engine/crypto/types.js';
import { ID_TYPE } from '../../engine/ike/constants.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import { Spd } from '../../engine/spd/spd.js';
import type { Policy, ProtectParams } from '../../engine/spd/types.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { IkeDaemon, type IkePeerConfig } from '../../machines/ikeSa/ikeDaemon.js';
import { ikeSuitesOf } from '../../machines/ikeSa/proposals.js';
import { latencySummary } from './ikeStrongswan.js';

/** ESP proposals in strongSwan's syntax that the benchmark may ask for. */
export const ESP_SUITES: Record<string, EspSuiteSpec> = {
  aes128gcm16: { encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE },
  aes256gcm16: { encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE },
  'aes128-sha256': { encr: ENCR.AES_CBC, encrKeyBits: 128, integ: INTEG.HMAC_SHA2_256_128 },
  'aes256-sha256': { encr: ENCR.AES_CBC, encrKeyBits: 256, integ: INTEG.HMAC_SHA2_256_128 },
};

const { values } = parseArgs({
  options: {
    role: { type: 'string' }, local: { type: 'string' }, remote: { type: 'string' },
    'local-id': { type: 'string' }, 'remote-id': { type: 'string' },
    'local-net': { type: 'string', default: '10.1.0.0/16' }, 'remote-net': { type: 'string', default: '10.2.0.0/16' },
    psk: { type: 'string', default: 'ipsec-es-bench-psk-not-a-secret-0123456789' },
    ike: { type: 'string' }, esp: { type: 'string', default: 'aes256gcm16' },
    conns: { type: 'string', default: '1' }, log: { type: 'string', default: 'file' }, dir: { type: 'string' },
  },
  strict: true,
});
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const need = (name: keyof typeof values) => {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new Error(`--${name} is required`);
  return v;
};
const role = need('role');
if (role !== 'initiator' && role !== 'responder') throw new Error(`--role: initiator or responder, got ${role}`);
/** One IKE proposal list per `--ike` entry (comma-separated, strongSwan's syntax). */
const proposals = need('ike').split(',').map((p) => {
  const s = ikeSuitesOf(p);
  if ('problem' in s) throw new Error(`--ike ${p}: ${s.problem}`);
  return s;
});
const esp = ESP_SUITES[need('esp')];
if (!esp) throw new Error(`--esp: one of ${Object.keys(ESP_SUITES).join(', ')}`);
const conns = Number(values.conns);
if (!Number.isInteger(conns) || conns < 1) throw new Error(`--conns: a positive integer, got ${values.conns}`);

const ip = (t: string) => {
  const r = parseIpAddress(t);
  if (!r.ok) throw new Error(`address ${t}: ${r.rule}`);
  return r.value;
};
const prefix = (cidr: string) => {
  const [a, len] = cidr.split('/');
  return { kind: 'prefix' as const, address: ip(a!), length: Number(len) };
};
const ANY = { kind: 'any' as const };
const local = need('local');
const remote = need('remote');
const sel = { localAddress: prefix(values['local-net']!), remoteAddress: prefix(values['remote-net']!), protocol: ANY, localPort: ANY, remotePort: ANY };
const protect = (src: string, dst: string): ProtectParams => ({
  protocol: 'esp', mode: 'tunnel', tunnel: { src: ip(src), dst: ip(dst) }, lifetimes: { soft: { timeMs: 3_600_000 }, hard: { timeMs: 4_000_000 } },
  replayWindow: 128, esn: false, offload: 'none', proposals: [esp],
});
const policies: Policy[] = [
  { id: 'bench-out', priority: 10, direction: 'outbound', selectors: [sel], action: 'protect', protect: protect(local, remote) },
  { id: 'bench-in', priority: 10, direction: 'inbound', selectors: [sel], action: 'protect', protect: protect(remote, local) },
];

const utf8 = (s: string) => new TextEncoder().encode(s);
const base: IkePeerConfig = {
  name: 'bench',
  local: { address: local, id: { idType: ID_TYPE.FQDN, data: utf8(values['local-id'] ?? `${role}.bench.test`) } },
  remote: { address: remote, id: { idType: ID_TYPE.FQDN, data: utf8(values['remote-id'] ?? `${role === 'initiator' ? 'responder' : 'initiator'}.bench.test`) } },
  psk: utf8(values.psk!),
  ikeSuites: proposals.flat(),
  children: [{ name: 'net', outPolicyId: 'bench-out', inPolicyId: 'bench-in' }],
};
// The initiator: connection `p<k>#<j>` offers proposal k, j = 0..conns-1; the responder takes any of them.
const peerName = (k: number, j: number) => `p${k}#${j}`;
const peers: IkePeerConfig[] = role === 'initiator' ? proposals.flatMap((suites, k) => Array.from({ length: conns }, (_, j) => ({ ...base, name: peerName(k, j), ikeSuites: suites }))) : [base];

let store: EventStore;
if (values.log === 'memory') store = memoryEventStore();
else if (values.log === 'file') store = await fileLogEventStore({ directory: join(values.dir ?? mkdtempSync(join(tmpdir(), 'ipsec-es-ikebench-')), 'log') });
else throw new Error(`--log: file or memory, got ${values.log}`);
const deps = { clock: systemClock, random: cryptoRandom, log: factLog(store) };
const gateway = new Gateway({ name: `bench-${role}`, deps, keys: memoryKeyStore(), spd: new Spd(policies) });
let native = true;
const bind = await nativeUdpBind({ address: local, port: 4500 }).catch(() => {
  native = false;
  return udpBind({ address: local, port: 4500 });
});
// eslint-disable-next-line prefer-const
let ike: IkeDaemon;
const wire = udpWire({ bind, drops: gateway.drops, local: { v4: local }, onDatagrams: () => {}, onIke: (m, from) => ike.receive(m, from, true) });
let closing = false;
// After shutdown starts, a retransmission timer still armed has nowhere to send: dropped.
ike = new IkeDaemon({ gateway, deps, peers, transport: { send: (m, to) => void (closing || wire.sendIke(m, to)) } });
gateway.keyManager = ike;

const liveChildSas = () => gateway.saIds().filter((id) => { const s = gateway.state(id)?.status; return s === 'mature' || s === 'rekeying'; }).length;
const status = () => ({
  ikeSas: ike.list().length, liveChildSas: liveChildSas(), saRecords: gateway.saIds().length,
  rssMb: Math.round(process.memoryUsage().rss / 1e5) / 10, counters: ike.counters, bindCounters: bind.counters,
});

/**
 * Handshakes with proposal p until n are done or ms have passed, c at a time: initiate
 * (IKE_SA_INIT + IKE_AUTH with the first CHILD SA), then delete the IKE SA (DELETE answered).
 */
async function run(n: number, ms: number, c: number, p: number) {
  if (role !== 'initiator') throw new Error('run: only the initiator runs handshakes');
  if (c > conns) throw new Error(`run: concurrency ${c} is more than --conns ${conns}`);
  if (!proposals[p]) throw new Error(`run: no proposal ${p}`);
  const latencies: number[] = [];
  const deletes: number[] = [];
  const errors: string[] = [];
  let started = 0;
  let failed = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  const worker = async (j: number) => {
    const name = peerName(p, j);
    while (started < n && performance.now() < deadline) {
      started++;
      const t = performance.now();
      try {
        await ike.initiate(name);
        latencies.push(performance.now() - t);
      } catch (e) {
        failed++;
        if (errors.length < 5) errors.push((e as Error).message);
      }
      const d = performance.now();
      for (const sa of ike.list().filter((s) => s.peer === name)) await ike.deleteIkeSa(sa.ikeSaId, 'operator');
      deletes.push(performance.now() - d);
    }
  };
  await Promise.all(Array.from({ length: c }, (_, k) => worker(k)));
  return { ok: latencies.length, failed, ms: performance.now() - t0, latencyMs: latencySummary(latencies), deleteMs: latencySummary(deletes), slowDeletes: deletes.filter((d) => d > 1000).length, errors };
}

// One command at a time, in order.
let queue: Promise<unknown> = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd: { cmd?: string; n?: number; ms?: number; c?: number; p?: number };
  try {
    cmd = JSON.parse(line) as typeof cmd;
  } catch {
    return say({ event: 'failed', message: `not JSON: ${line}` });
  }
  const work = async () => {
    if (cmd.cmd === 'run') return { event: 'result', ...(await run(cmd.n ?? 1, cmd.ms ?? 3_600_000, cmd.c ?? 1, cmd.p ?? 0)) };
    if (cmd.cmd === 'status') {
      await gateway.settled();
      return { event: 'status', ...status() };
    }
    throw new Error(`unknown command ${String(cmd.cmd)}`);
  };
  queue = queue.then(work).then(say, (e: unknown) => say({ event: 'failed', message: (e as Error).message }));
});

say({ event: 'running', role, pid: process.pid, udp: `${bind.localAddress}:${bind.localPort}`, native, log: values.log });
await new Promise<void>((resolve) => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  process.stdin.once('end', () => resolve());
});
closing = true;
ike.stop();
await gateway.settled().catch(() => {});
gateway.stop();
await bind.close().catch(() => {});
await store.close().catch(() => {});
process.exit(0);
