/**
 * `npm run bench:tunnel` (root): iperf3 TCP throughput host A → host B through our two gateways
 * (the whole framework in the path: TUN addon, RxJS pipelines, SPD, SAD, machines, the file log),
 * through strongSwan's charon with kernel-libipsec (user-space ESP over TUN, the closest peer;
 * ../shared/peers/strongswan/run.sh) in the same four-namespace topology with the same suite
 * (AES-128-GCM, ESP in UDP 4500), and plainly routed. The three cells alternate, round by round,
 * so a ratio compares the same moments of a noisy 2-core machine. Goal (issue 6): ours ≥ 0.8 ×
 * strongSwan.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { newKeys, startGateway, type GatewayProcess } from '../test/e2e/gateways.js';
import { ADDR, createTopology, e2eUnavailable, type Topology } from '../test/e2e/topology.js';

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

function iperf(t: { exec(ns: string, cmd: string[], timeoutMs?: number): string; spawn(ns: string, cmd: string[]): { kill(sig?: NodeJS.Signals): boolean } }, client: string, server: string, address: string): number {
  const s = t.spawn(server, ['iperf3', '-s', '-1', '-B', address]);
  for (let i = 0; i < 50 && !t.exec(server, ['ss', '-Hltn', 'sport = :5201']).trim(); i++) execFileSync('sleep', ['0.1']);
  try {
    const r = JSON.parse(t.exec(client, ['iperf3', '-c', address, '-t', String(SECS), '-J'], (SECS + 30) * 1000)) as { end: { sum_received: { bits_per_second: number } } };
    return r.end.sum_received.bits_per_second / 1e6;
  } finally {
    s.kill('SIGKILL');
  }
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
console.log(`\nipsec-es tunnel benchmark · iperf3 TCP ${SECS} s per cell · ${ROUNDS} rounds, cells alternating · suite AES-128-GCM, ESP in UDP 4500`);
let ours: Topology | undefined;
let plain: Topology | undefined;
const gateways: GatewayProcess[] = [];
try {
  execFileSync(HARNESS, ['clean'], { stdio: 'ignore' });
  execFileSync(HARNESS, ['basic'], { stdio: 'ignore', env: { ...process.env, KEEP: '1' }, timeout: 120_000 });
  ours = await createTopology();
  const keys = newKeys();
  gateways.push(...(await Promise.all([startGateway(ours, 'a', keys), startGateway(ours, 'b', keys)])));
  plain = await createTopology({ exclusive: false });
  plain.exec(plain.ns.gwA, ['ip', 'route', 'add', ADDR.lanB, 'via', ADDR.gwBWan]);
  plain.exec(plain.ns.gwB, ['ip', 'route', 'add', ADDR.lanA, 'via', ADDR.gwAWan]);
  const cells = {
    'ipsec-es (two gateways, full framework)': () => iperf(ours!, ours!.ns.hostA, ours!.ns.hostB, ADDR.hostB),
    'strongSwan 5.9 charon + kernel-libipsec': () => iperf(nsRunner, 'ssA-lhost', 'ssA-rhost', '10.22.0.2'),
    'plain routing (no IPsec)': () => iperf(plain!, plain!.ns.hostA, plain!.ns.hostB, ADDR.hostB),
  };
  // A short warm-up through each path first (the gateways' JIT, the harness's first flows): not counted.
  for (const run of Object.values(cells)) run();
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(cells).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) for (const [name, run] of Object.entries(cells)) results[name]!.push(run());
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [oursName, swanName, plainName] = Object.keys(cells) as [string, string, string];
  console.log(`${'path'.padEnd(44)} ${'median Mbit/s'.padStart(14)}   runs`);
  for (const [name, xs] of Object.entries(results)) console.log(`${name.padEnd(44)} ${median(xs).toFixed(0).padStart(14)}   ${xs.map((x) => x.toFixed(0)).join(' / ')}`);
  const perRound = results[oursName]!.map((x, i) => x / results[swanName]![i]!);
  console.log(`\nipsec-es / strongSwan: ${(median(results[oursName]!) / median(results[swanName]!)).toFixed(2)}× (per round: ${perRound.map((r) => r.toFixed(2)).join(', ')}; goal ≥ 0.80×)`);
  console.log(`ipsec-es / plain routing: ${(median(results[oursName]!) / median(results[plainName]!)).toFixed(3)}×; strongSwan / plain routing: ${(median(results[swanName]!) / median(results[plainName]!)).toFixed(3)}×`);
} finally {
  await Promise.allSettled(gateways.map((g) => g.stop()));
  ours?.destroy();
  plain?.destroy();
  try {
    execFileSync(HARNESS, ['clean'], { stdio: 'ignore' });
  } catch {
    /* already clean */
  }
}
