/**
 * `npm run bench:tunnel` (root): host A → host B through our two gateways (the whole framework
 * in the path: TUN addon, RxJS pipelines over batches, SPD, SAD, machines, the file log), once
 * with the fast path (`--crypto native`, UDP GSO sends, GSO writes to the TUN device) and once
 * without it (`--crypto node`, IPSEC_ES_UDP_GSO=0, IPSEC_ES_TUN_GSO=0),
 * through strongSwan's charon with kernel-libipsec (user-space ESP over TUN, the closest peer;
 * ../shared/peers/strongswan/run.sh) in the same four-namespace topology with the same suite
 * (AES-128-GCM, ESP in UDP 4500), and plainly routed. Two measures:
 *   - iperf3 TCP throughput;
 *   - packets/s at 64 B: iperf3 UDP, 36-octet payloads (64-octet IP packets) at full speed,
 *     counted at the receiver (sent − lost).
 * Beside each cell: the CPU each gateway's processes used (% of one core, from /proc/<pid>/stat
 * of every process in its namespace; kernel work done in softirq context is not in it). The cells alternate, round by
 * round, so a ratio compares the same moments of a noisy 2-core machine. Goals (issue 10):
 * TCP ≥ 1.5 × strongSwan, 64 B packets/s ≥ 2 × strongSwan.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { newKeys, startGateway, type GatewayProcess } from '../test/e2e/gateways.js';
import { ADDR, createTopology, e2eUnavailable, lockE2e, type Topology } from '../test/e2e/topology.js';

const SECS = Number(process.env.IPERF_SECS ?? (process.argv.includes('--quick') ? 3 : 6));
const ROUNDS = Number(process.env.ROUNDS ?? (process.argv.includes('--quick') ? 2 : 3));
const HARNESS = resolve(import.meta.dirname, '../../shared/peers/strongswan/run.sh');
const STRONGSWAN_PACKAGES = ['strongswan-charon', 'strongswan-swanctl', 'libstrongswan-standard-plugins', 'libstrongswan-extra-plugins', 'libcharon-extra-plugins'];

function need(): string | undefined {
  const why = e2eUnavailable();
  if (why) return why;
  const has = (cmd: string) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`]); return true; } catch { return false; } };
  const missing = [...(has('iperf3') ? [] : ['iperf3']), ...(existsSync('/usr/lib/ipsec/charon') && has('swanctl') ? [] : STRONGSWAN_PACKAGES)];
  if (missing.length) {
    console.log(`installing ${missing.join(' ')} (apt-get) ...`);
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch {
      return `could not install ${missing.join(' ')}`;
    }
  }
  if (!existsSync(HARNESS)) return `the strongSwan harness is not at ${HARNESS}`;
  return undefined;
}

type Runner = { exec(ns: string, cmd: string[], timeoutMs?: number): string; spawn(ns: string, cmd: string[]): { kill(sig?: NodeJS.Signals): boolean } };

/** One iperf3 run `client` → `address` in `server`: TCP Mbit/s, or UDP 64-octet packets/s received. */
function iperf(t: Runner, client: string, server: string, address: string, kind: 'tcp' | 'udp64'): number {
  const s = t.spawn(server, ['iperf3', '-s', '-1', '-B', address]);
  for (let i = 0; i < 50 && !t.exec(server, ['ss', '-Hltn', 'sport = :5201']).trim(); i++) execFileSync('sleep', ['0.1']);
  try {
    // 36 octets of UDP payload + 8 + 20 = 64-octet IP packets; -b 0: as fast as the client can.
    const args = kind === 'tcp' ? [] : ['-u', '-l', '36', '-b', '0'];
    const r = JSON.parse(t.exec(client, ['iperf3', '-c', address, '-t', String(SECS), '-J', ...args], (SECS + 30) * 1000)) as {
      end: { sum_received?: { bits_per_second: number }; sum?: { packets: number; lost_packets: number; seconds: number } };
    };
    if (kind === 'tcp') return r.end.sum_received!.bits_per_second / 1e6;
    const u = r.end.sum!;
    return (u.packets - u.lost_packets) / u.seconds;
  } finally {
    s.kill('SIGKILL');
  }
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;

/** CPU seconds used so far by every process in these namespaces (utime + stime, proc(5)). */
function cpuSeconds(namespaces: readonly string[]): number {
  let ticks = 0;
  for (const ns of namespaces) {
    let pids: string[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of pids) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15: utime, stime
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return ticks / TICKS;
}

const nsRunner = {
  exec: (ns: string, cmd: string[], timeoutMs = 30_000) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
  spawn: (ns: string, cmd: string[]) => spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'ignore' }),
};

const why = need();
if (why) {
  console.log(`bench:tunnel skipped: ${why}`);
  process.exit(0);
}
console.log(`\nipsec-es tunnel benchmark · iperf3 ${SECS} s per cell · ${ROUNDS} rounds, cells alternating · suite AES-128-GCM, ESP in UDP 4500`);
const topologies: Topology[] = [];
const gateways: GatewayProcess[] = [];
// The machine-wide e2e/bench lock for the whole run: nothing else measures meanwhile.
const unlock = await lockE2e();
try {
  execFileSync(HARNESS, ['clean'], { stdio: 'ignore' });
  execFileSync(HARNESS, ['basic'], { stdio: 'ignore', env: { ...process.env, KEEP: '1' }, timeout: 120_000 });
  /** Our two gateways in a topology of their own, with these crypto flags. */
  const ours = async (crypto: 'native' | 'node') => {
    const t = await createTopology({ exclusive: false });
    topologies.push(t);
    const keys = newKeys();
    // Without the fast path: node:crypto, and no GSO on the UDP socket or the TUN device.
    const env = { IPSEC_ES_UDP_GSO: process.env.IPSEC_ES_UDP_GSO, IPSEC_ES_TUN_GSO: process.env.IPSEC_ES_TUN_GSO };
    if (crypto === 'node') process.env.IPSEC_ES_UDP_GSO = process.env.IPSEC_ES_TUN_GSO = '0';
    const pair = await Promise.all([startGateway(t, 'a', keys, undefined, undefined, { args: ['--crypto', crypto] }), startGateway(t, 'b', keys, undefined, undefined, { args: ['--crypto', crypto] })]);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    gateways.push(...pair);
    const running = pair[0].lines.find((l) => l.event === 'started') as { crypto?: string } | undefined;
    return { t, crypto: running?.crypto ?? crypto };
  };
  const fast = await ours('native');
  const slow = await ours('node');
  const plain = await createTopology({ exclusive: false });
  topologies.push(plain);
  plain.exec(plain.ns.gwA, ['ip', 'route', 'add', ADDR.lanB, 'via', ADDR.gwBWan]);
  plain.exec(plain.ns.gwB, ['ip', 'route', 'add', ADDR.lanA, 'via', ADDR.gwAWan]);
  type Path = { name: string; run: (kind: 'tcp' | 'udp64') => number; gateways: string[] };
  const paths: Path[] = [
    { name: `ipsec-es, crypto ${fast.crypto} (fast path)`, run: (k) => iperf(fast.t, fast.t.ns.hostA, fast.t.ns.hostB, ADDR.hostB, k), gateways: [fast.t.ns.gwA, fast.t.ns.gwB] },
    { name: `ipsec-es, crypto ${slow.crypto}, no GSO`, run: (k) => iperf(slow.t, slow.t.ns.hostA, slow.t.ns.hostB, ADDR.hostB, k), gateways: [slow.t.ns.gwA, slow.t.ns.gwB] },
    { name: 'strongSwan 5.9 charon + kernel-libipsec', run: (k) => iperf(nsRunner, 'ssA-lhost', 'ssA-rhost', '10.22.0.2', k), gateways: ['ssA-left', 'ssA-right'] },
    { name: 'plain routing (no IPsec)', run: (k) => iperf(plain, plain.ns.hostA, plain.ns.hostB, ADDR.hostB, k), gateways: [plain.ns.gwA, plain.ns.gwB] },
  ];
  if (fast.crypto !== 'native') console.log(`note: the native crypto addon is not built here (the gateway ran ${fast.crypto}): npm run build:native`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const kind of ['tcp', 'udp64'] as const) {
    const cell = (p: Path) => {
      const c0 = p.gateways.map((g) => cpuSeconds([g]));
      const t0 = performance.now();
      const value = p.run(kind);
      const secs = (performance.now() - t0) / 1000;
      return { value, cpu: p.gateways.map((g, i) => (100 * (cpuSeconds([g]) - c0[i]!)) / secs) };
    };
    // A short warm-up through each path first (the gateways' JIT, the harness's first flows): not counted.
    for (const p of paths) cell(p);
    const results = new Map(paths.map((p) => [p, [] as Array<{ value: number; cpu: number[] }>]));
    for (let round = 0; round < ROUNDS; round++) for (const p of paths) results.get(p)!.push(cell(p));
    const unit = kind === 'tcp' ? 'Mbit/s (TCP)' : 'packets/s (64 B UDP)';
    console.log(`\n${'path'.padEnd(48)} ${('median ' + unit).padStart(28)}   CPU gateway A / B   runs`);
    for (const [p, xs] of results) {
      const v = xs.map((x) => x.value);
      const cpu = [0, 1].map((g) => `${median(xs.map((x) => x.cpu[g]!)).toFixed(0)} %`).join(' / ');
      console.log(`${p.name.padEnd(48)} ${median(v).toFixed(0).padStart(28)}   ${cpu.padStart(17)}   ${v.map((x) => x.toFixed(0)).join(' / ')}`);
    }
    const swan = results.get(paths[2]!)!.map((x) => x.value);
    const goal = kind === 'tcp' ? 1.5 : 2;
    for (const p of paths.slice(0, 2)) {
      const v = results.get(p)!.map((x) => x.value);
      const ratio = median(v) / median(swan);
      console.log(`${p.name} / strongSwan: ${ratio.toFixed(2)}× (per round: ${v.map((x, i) => (x / swan[i]!).toFixed(2)).join(', ')}; goal ≥ ${goal}×: ${ratio >= goal ? 'met' : 'not met'})`);
    }
  }
} finally {
  await Promise.allSettled(gateways.map((g) => g.stop()));
  for (const t of topologies) t.destroy();
  try {
    execFileSync(HARNESS, ['clean'], { stdio: 'ignore' });
  } catch {
    /* already clean */
  }
  unlock();
}
