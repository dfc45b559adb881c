/**
 * `npm run bench:ike` (root): IKEv2 handshakes per second, IKE_SA_INIT + IKE_AUTH with the first
 * CHILD SA, PSK, between two of our processes and between two strongSwan charons, in the same
 * run, and the ratio. Each pair sits in its own two network namespaces (`ipsec-es-ikb-*`) joined
 * by a veth pair, 192.0.2.1 (initiator) ↔ 192.0.2.2 (responder):
 *   - ours: two Node processes (bench/lib/ikePeerMain.ts), each a Gateway keyed by the IkeDaemon
 *     on a real UDP socket, the event log on disk (the fileLog store, as the gateway runs), and a
 *     second pair with the in-memory log, which shows what the durable log costs;
 *   - strongSwan: two charons (kernel-libipsec, bench/lib/ikeStrongswan.ts) driven over VICI.
 * Both initiators do the same loop: start a handshake, wait for the CHILD SA, delete the IKE SA
 * and wait for the DELETE's answer, c loops at a time (c = 1 and 8), for a fixed time per cell.
 * The same IKE proposal (encryption, PRF, DH group), ESP proposal (aes256gcm16), PSK and
 * retransmission schedule on both. Cells alternate, round by round, so a ratio compares the same
 * moments of a noisy 2-core machine; CPU ms per handshake (both processes of a pair) are printed
 * too, the figure least moved by the machine's other load.
 *
 * Flags: --quick (short cells, 2 rounds), --seconds S (per cell), --rounds R, --concurrency 1,8,
 * --ike P1,P2 (strongSwan proposal syntax), --no-strongswan, --no-ours, --no-memory, --profile DIR (our
 * processes write V8 CPU profiles there: node --cpu-prof).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ikeSuitesOf } from '../machines/ikeSa/proposals.js';
import { e2eUnavailable, lockE2e } from '../test/e2e/topology.js';
import { charonHandshakes, charonIkeSas, charonUnavailable, charonVersion, startCharonPair, viciWorkers, type CharonPair, type HandshakeRun } from './lib/ikeStrongswan.js';
import type { ViciSession } from './lib/ikeVici.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, rounds: { type: 'string' },
    concurrency: { type: 'string', default: '1,8' }, ike: { type: 'string', default: 'aes256gcm16-prfsha256-curve25519,aes256-sha256-modp2048' },
    'no-strongswan': { type: 'boolean', default: false }, 'no-ours': { type: 'boolean', default: false }, 'no-memory': { type: 'boolean', default: false }, profile: { type: 'string' },
  },
  strict: true,
});
const CELL_MS = Number(flags.seconds ?? (flags.quick ? 1.5 : 3)) * 1000;
const ROUNDS = Number(flags.rounds ?? (flags.quick ? 2 : 3));
const CONCURRENCY = flags.concurrency!.split(',').map(Number);
const PROPOSALS = flags.ike!.split(',');
const ESP = 'aes256gcm16';
const PSK = 'ipsec-es-bench-psk-not-a-secret-0123456789';
const ADDR = { initiator: '192.0.2.1', responder: '192.0.2.2' } as const;
const NETS = { initiator: '10.1.0.0/16', responder: '10.2.0.0/16' } as const;
const LAN_ADDR = { initiator: '10.1.0.1', responder: '10.2.0.1' } as const;
const IDS = { initiator: 'initiator.bench.test', responder: 'responder.bench.test' } as const;
const MAX_PER_CELL = 1_000_000;
const DH_NAMES: Record<number, string> = { 14: 'MODP-2048', 19: 'P-256', 31: 'Curve25519' };

for (const c of CONCURRENCY) if (!Number.isInteger(c) || c < 1) throw new Error(`--concurrency: positive integers, got ${flags.concurrency}`);
for (const p of PROPOSALS) if ('problem' in ikeSuitesOf(p)) throw new Error(`--ike ${p}: ${(ikeSuitesOf(p) as { problem: string }).problem}`);
const groupOf = (p: string) => (ikeSuitesOf(p) as Array<{ dh: number }>).map((s) => `${s.dh} (${DH_NAMES[s.dh] ?? '?'})`).join('/');

// ---------------------------------------------------------------- namespaces, processes, clean-up

const tag = randomBytes(3).toString('hex');
const namespaces: string[] = [];
const children = new Set<ChildProcess>();
let charons: CharonPair | undefined;
let release: (() => void) | undefined;
const work = mkdtempSync(join(tmpdir(), 'ipsec-es-ikebench-'));
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Everything this run started goes: processes by their pids, then its namespaces. Safe to call twice. */
function cleanupNow(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of charons?.pids() ?? []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const ns of namespaces.splice(0)) {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        ip('netns', 'del', ns);
        break;
      } catch {
        if (!ip('netns', 'list').includes(ns)) break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200); // a process still leaving it
      }
    }
  }
  if (!flags.profile) rmSync(work, { recursive: true, force: true });
  release?.();
  release = undefined;
}
process.once('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { cleanupNow(); process.exit(130); });

/** Two namespaces joined by a veth pair (`wan0` on both), initiator and responder addresses. */
function nsPair(label: string): { initiator: string; responder: string } {
  const pair = { initiator: `ipsec-es-ikb-${tag}-${label}i`, responder: `ipsec-es-ikb-${tag}-${label}r` };
  for (const ns of [pair.initiator, pair.responder]) {
    ip('netns', 'add', ns);
    namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', pair.initiator, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', pair.responder);
  for (const side of ['initiator', 'responder'] as const) {
    ip('-n', pair[side], 'addr', 'add', `${ADDR[side]}/24`, 'dev', 'wan0');
    ip('-n', pair[side], 'link', 'set', 'wan0', 'up');
    // The gateway's LAN address, inside its traffic selector (kernel-libipsec routes the remote
    // subnet from it, and refuses the CHILD SA without one); a veth with its end left in the namespace.
    ip('-n', pair[side], 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1');
    ip('-n', pair[side], 'addr', 'add', `${LAN_ADDR[side]}/16`, 'dev', 'lan0');
    ip('-n', pair[side], 'link', 'set', 'lan0', 'up');
    ip('-n', pair[side], 'link', 'set', 'lan1', 'up');
  }
  return pair;
}

/** A progress line on stderr (overwritten in a terminal). */
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

/** The last `n` lines of a file, or why not. */
function tail(path: string, n: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch (e) {
    return `(${(e as Error).message})`;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

interface OurProcess {
  pid: number;
  request(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** One of our IKE processes in `ns`; resolves once it says it is running. */
async function startOurs(ns: string, role: 'initiator' | 'responder', log: 'file' | 'memory', label: string): Promise<OurProcess> {
  const other = role === 'initiator' ? 'responder' : 'initiator';
  const maxC = Math.max(...CONCURRENCY);
  // One directory per process: node writes one profile per thread (the main one is the largest).
  const prof = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', resolve(flags.profile, `${log}-${role}`)] : [];
  const args = [
    'netns', 'exec', ns, process.execPath, ...prof, '--import', 'tsx', join(ROOT, 'bench/lib/ikePeerMain.ts'),
    '--role', role, '--local', ADDR[role], '--remote', ADDR[other], '--local-id', IDS[role], '--remote-id', IDS[other],
    '--local-net', NETS[role], '--remote-net', NETS[other], '--psk', PSK, '--ike', PROPOSALS.join(','), '--esp', ESP,
    '--conns', String(maxC), '--log', log, '--dir', join(work, `${label}-${role}`),
  ];
  const proc = spawn('ip', args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  let running: (line: Record<string, unknown>) => void;
  const started = new Promise<Record<string, unknown>>((r) => (running = r));
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return void process.stderr.write(`[${label} ${role}] ${text}\n`);
    }
    if (line.event === 'running') running(line);
    else waiting.shift()?.(line);
  });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code, sig) => reject(new Error(`our ${role} (${label}) exited: ${code ?? sig}`))));
  exited.catch(() => {});
  await Promise.race([started, exited, new Promise((_, rej) => setTimeout(() => rej(new Error(`our ${role} (${label}) did not start in 30 s`)), 30_000))]);
  return {
    pid: proc.pid!,
    request: (cmd) => {
      const answer = new Promise<Record<string, unknown>>((r) => waiting.push(r));
      proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
      return Promise.race([answer, exited]).then((line) => {
        if (line.event === 'failed') throw new Error(`our ${role} (${label}): ${String(line.message)}`);
        return line;
      });
    },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.stdin!.end();
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------- cells

/** A way to run handshakes for one (proposal, concurrency): the result and CPU seconds of both processes. */
interface Candidate {
  name: string;
  run(p: number, c: number, limit: { n: number; ms: number }): Promise<HandshakeRun>;
  pids(): number[];
  check(): Promise<string | undefined>;
}

function oursCandidate(name: string, initiator: OurProcess, responder: OurProcess): Candidate {
  return {
    name,
    run: async (p, c, limit) => (await initiator.request({ cmd: 'run', n: limit.n, ms: limit.ms, c, p })) as unknown as HandshakeRun,
    pids: () => [initiator.pid, responder.pid],
    check: async () => {
      const [i, r] = await Promise.all([initiator.request({ cmd: 'status' }), responder.request({ cmd: 'status' })]);
      const bad = [i, r].filter((s) => s.ikeSas !== 0 || s.liveChildSas !== 0);
      return bad.length ? `${name}: IKE SAs / live CHILD SAs left after the deletes: initiator ${String(i.ikeSas)}/${String(i.liveChildSas)}, responder ${String(r.ikeSas)}/${String(r.liveChildSas)}` : undefined;
    },
  };
}

function charonCandidate(name: string, pair: CharonPair): Candidate {
  const pools = new Map<number, ViciSession[]>();
  let succeeded = 0;
  return {
    name,
    run: async (p, c, limit) => {
      let pool = pools.get(c);
      if (!pool) pools.set(c, (pool = await viciWorkers(pair.vici('initiator'), c)));
      const r = await charonHandshakes(pool, (j) => pair.conn(p, j), limit);
      succeeded += r.ok;
      return r;
    },
    pids: () => pair.pids(),
    check: async () => {
      // Every initiate that said yes is a CHILD SA the responder established (its level-0 log line).
      const established = (readFileSync(pair.log('responder'), 'utf8').match(/CHILD_SA \S+ established with SPIs/g) ?? []).length;
      if (established < succeeded) return `${name}: ${succeeded} initiates succeeded but the responder logged ${established} CHILD SAs established`;
      // The responder forgets an IKE SA when the DELETE arrives; give a last one a moment.
      for (let i = 0; i < 20; i++) {
        const [a, b] = await Promise.all([charonIkeSas(pair.vici('initiator')), charonIkeSas(pair.vici('responder'))]);
        if (a.total === 0 && b.total === 0) return undefined;
        if (i === 19) return `${name}: IKE SAs left after the deletes: initiator ${a.total}, responder ${b.total}`;
        await new Promise((r) => setTimeout(r, 100));
      }
      return undefined;
    },
  };
}

interface Measured {
  rate: number;
  slowDeletes: number;
  cpuMsPerHandshake: number;
  p50: number;
  failed: number;
  errors: string[];
}

async function measure(cand: Candidate, p: number, c: number, ms: number): Promise<Measured> {
  const before = cand.pids().map(cpuSeconds);
  const r = await cand.run(p, c, { n: MAX_PER_CELL, ms });
  const cpu = cand.pids().map(cpuSeconds).reduce((s, v, i) => s + v - before[i]!, 0);
  return { rate: r.ok / (r.ms / 1000), slowDeletes: r.slowDeletes, cpuMsPerHandshake: r.ok ? (cpu * 1000) / r.ok : NaN, p50: r.latencyMs.p50, failed: r.failed, errors: r.errors };
}

// ---------------------------------------------------------------- main

const why = e2eUnavailable();
if (why) {
  console.log(`bench:ike skipped: ${why}`);
  process.exit(0);
}
const swanWhy = flags['no-strongswan'] ? 'turned off with --no-strongswan' : charonUnavailable();
console.log(`\nipsec-es IKEv2 handshake benchmark · node ${process.version} · ${swanWhy ? 'strongSwan skipped' : charonVersion()} · ${CELL_MS / 1000} s per cell · ${ROUNDS} rounds, cells alternating`);
console.log(`A handshake = IKE_SA_INIT + IKE_AUTH (PSK) with the first CHILD SA (ESP ${ESP}, tunnel, UDP-encapsulated) installed on both sides; then the IKE SA is deleted (INFORMATIONAL answered).`);
console.log('c = handshakes in flight. Two processes per pair in two network namespaces over a veth; CPU = both processes of the pair.\n');
if (swanWhy) console.log(`strongSwan half skipped: ${swanWhy}\n`);

try {
  release = await lockE2e();
  const candidates: Candidate[] = [];
  let swanCandidate: Candidate | undefined;
  const labels: Array<{ label: string; log: 'file' | 'memory'; name: string }> = [];
  if (!flags['no-ours']) labels.push({ label: 'f', log: 'file', name: 'ours (file log)' });
  if (!flags['no-ours'] && !flags['no-memory']) labels.push({ label: 'm', log: 'memory', name: 'ours (memory log)' });
  const ours: OurProcess[] = [];
  for (const l of labels) {
    const pair = nsPair(l.label);
    const responder = await startOurs(pair.responder, 'responder', l.log, l.label);
    const initiator = await startOurs(pair.initiator, 'initiator', l.log, l.label);
    ours.push(initiator, responder);
    candidates.push(oursCandidate(l.name, initiator, responder));
  }
  if (!swanWhy) {
    const pair = nsPair('s');
    mkdirSync(join(work, 'charon'), { recursive: true });
    const side = (s: 'initiator' | 'responder') => {
      const o = s === 'initiator' ? 'responder' : 'initiator';
      return { name: s, ns: pair[s], address: ADDR[s], peerAddress: ADDR[o], id: IDS[s], peerId: IDS[o], net: NETS[s], peerNet: NETS[o] };
    };
    charons = await startCharonPair({ dir: join(work, 'charon'), initiator: side('initiator'), responder: side('responder'), psk: PSK, ikeProposals: PROPOSALS, esp: ESP, workers: Math.max(...CONCURRENCY) });
    swanCandidate = charonCandidate('strongSwan', charons);
    candidates.push(swanCandidate);
  }

  // Correctness first: one handshake per candidate and proposal completes, and nothing is left after the delete.
  for (const cand of candidates) {
    progress(`checking ${cand.name}`);
    for (let p = 0; p < PROPOSALS.length; p++) {
      const r = await cand.run(p, 1, { n: 3, ms: 30_000 });
      if (r.ok !== 3) {
        const logs = cand === swanCandidate && charons ? (['initiator', 'responder'] as const).map((s) => `--- charon ${s} log (tail):\n${tail(charons!.log(s), 15)}`).join('\n') : '';
        throw new Error(`${cand.name} with ${PROPOSALS[p]}: ${r.ok}/3 handshakes (${r.errors.join('; ')})\n${logs}`);
      }
    }
    const left = await cand.check();
    if (left) throw new Error(left);
  }
  // Warm-up (JIT, first allocations), not counted.
  progress('warming up');
  for (const cand of candidates) for (let p = 0; p < PROPOSALS.length; p++) for (const c of CONCURRENCY) await cand.run(p, c, { n: MAX_PER_CELL, ms: Math.min(CELL_MS, 1000) });

  const results = new Map<string, Measured[]>();
  const key = (cand: string, p: number, c: number) => `${cand}|${p}|${c}`;
  for (let round = 0; round < ROUNDS; round++) {
    for (let p = 0; p < PROPOSALS.length; p++) {
      for (const c of CONCURRENCY) {
        // Alternate who goes first, so neither always follows the other.
        const order = round % 2 ? [...candidates].reverse() : candidates;
        for (const cand of order) {
          progress(`round ${round + 1}/${ROUNDS}: ${cand.name}, ${PROPOSALS[p]}, c=${c}`);
          const m = await measure(cand, p, c, CELL_MS);
          const k = key(cand.name, p, c);
          results.set(k, [...(results.get(k) ?? []), m]);
          if (m.failed) process.stderr.write(`  ${cand.name} ${PROPOSALS[p]} c=${c}: ${m.failed} failed (${m.errors.join('; ')})\n`);
        }
      }
    }
  }
  for (const cand of candidates) {
    const left = await cand.check();
    if (left) console.log(`WARNING: ${left}`);
  }

  const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
  const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const swan = candidates.find((x) => x.name === 'strongSwan');
  const cols = ['IKE proposal', 'DH group', 'c', ...candidates.flatMap((x) => [`${x.name} /s`, 'CPU ms', 'p50 ms']), ...(swan ? candidates.filter((x) => x !== swan).map((x) => `${x.name.replace('ours ', '')}/swan`) : [])];
  const rows: string[][] = [cols];
  const ratioLines: string[] = [];
  for (let p = 0; p < PROPOSALS.length; p++) {
    for (const c of CONCURRENCY) {
      const row = [PROPOSALS[p]!, groupOf(PROPOSALS[p]!), String(c)];
      for (const cand of candidates) {
        const ms = results.get(key(cand.name, p, c))!;
        row.push(f0(median(ms.map((m) => m.rate))), f1(median(ms.map((m) => m.cpuMsPerHandshake))), f1(median(ms.map((m) => m.p50))));
      }
      if (swan) {
        const sw = results.get(key(swan.name, p, c))!;
        for (const cand of candidates.filter((x) => x !== swan)) {
          const ms = results.get(key(cand.name, p, c))!;
          const perRound = ms.map((m, i) => m.rate / sw[i]!.rate);
          row.push(f2(median(perRound)));
          ratioLines.push(`${cand.name} / strongSwan, ${PROPOSALS[p]} (DH ${groupOf(PROPOSALS[p]!)}), c=${c}: ${f2(median(perRound))}× handshakes/s (rounds: ${perRound.map(f2).join(', ')}); CPU per handshake ${f2(median(ms.map((m) => m.cpuMsPerHandshake)) / median(sw.map((m) => m.cpuMsPerHandshake)))}× strongSwan's`);
        }
      }
      rows.push(row);
    }
  }
  const widths = cols.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  '));
  console.log('');
  for (const l of ratioLines) console.log(l);
  for (const cand of candidates) {
    const slow = [...results].filter(([k]) => k.startsWith(`${cand.name}|`)).reduce((n, [, ms]) => n + ms.reduce((m, x) => m + x.slowDeletes, 0), 0);
    if (slow) console.log(`NOTE: ${cand.name}: ${slow} IKE SA deletes took over 1 s (unanswered DELETE requests, retransmitted until the retry limit); those workers stalled meanwhile.`);
  }
  const status = await Promise.all(ours.map((o) => o.request({ cmd: 'status' })));
  console.log('\nour processes after the run:');
  for (const [i, s] of status.entries()) {
    const drops = Object.entries((s.counters as { drops: Record<string, number> }).drops).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    console.log(`  ${labels[Math.floor(i / 2)]!.name} ${i % 2 ? 'responder' : 'initiator'}: rss ${String(s.rssMb)} MB, ${String(s.saRecords)} SA records kept (${String(s.liveChildSas)} live), ${String(s.ikeSas)} IKE SAs, IKE drops: ${drops}`);
  }
  await Promise.all(ours.map((o) => o.stop()));
  await charons?.stop();
} finally {
  cleanupNow();
}
