/**
 * Four network namespaces in a line — host A · gateway A · gateway B · host B — joined by veth
 * pairs. The LANs (10.1.0.0/24, 10.2.0.0/24) have no route to each other except through
 * whatever the gateways add (our tunnel); the WAN is 192.0.2.0/24. Names start with the
 * project's prefix and a random suffix; `destroy()` removes them, and an exit hook does too.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const LOCK = '/tmp/ipsec-es-e2e.lock';

/**
 * One end-to-end topology at a time on this machine (vitest runs files in parallel; two
 * iperf3 runs on 2 cores would measure each other). A directory is the lock; a dead holder's
 * lock is taken over.
 */
export async function lockE2e(): Promise<() => void> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(`${LOCK}/pid`, 'utf8'));
        process.kill(holder, 0);
      } catch {
        if (holder) rmSync(LOCK, { recursive: true, force: true }); // the holder is gone
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export const ADDR = {
  hostA: '10.1.0.10', gwALan: '10.1.0.1', gwAWan: '192.0.2.1',
  gwBWan: '192.0.2.2', gwBLan: '10.2.0.1', hostB: '10.2.0.10',
  lanA: '10.1.0.0/24', lanB: '10.2.0.0/24',
} as const;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Can this process build namespaces (root, iproute2)? The reason when not. */
export function e2eUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try {
    ip('netns', 'list');
  } catch {
    return 'needs iproute2 with netns support';
  }
  return undefined;
}

export interface Topology {
  ns: { hostA: string; gwA: string; gwB: string; hostB: string };
  /** Runs a command in a namespace and returns its stdout. */
  exec(ns: string, cmd: string[], timeoutMs?: number): string;
  /** Starts a long-running command in a namespace. */
  spawn(ns: string, cmd: string[], options?: SpawnOptions): ChildProcess;
  destroy(): void;
}

/**
 * @example
 * const t = await createTopology(); try { t.exec(t.ns.hostA, ['ping', '-c1', ADDR.hostB]); } finally { t.destroy(); }
 */
export async function createTopology(options: { exclusive?: boolean } = {}): Promise<Topology> {
  const release = options.exclusive === false ? () => {} : await lockE2e();
  const tag = randomBytes(3).toString('hex');
  const ns = { hostA: `ipsec-es-ha-${tag}`, gwA: `ipsec-es-ga-${tag}`, gwB: `ipsec-es-gb-${tag}`, hostB: `ipsec-es-hb-${tag}` };
  const children = new Set<ChildProcess>();
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const n of Object.values(ns)) {
      try {
        ip('netns', 'del', n);
      } catch {
        /* already gone */
      }
    }
    release();
  };
  process.once('exit', destroy);
  const inNs = (n: string, ...args: string[]) => ip('-n', n, ...args);
  try {
    for (const n of Object.values(ns)) {
      ip('netns', 'add', n);
      inNs(n, 'link', 'set', 'lo', 'up');
      // IPv4 only: no IPv6 neighbour discovery chatter in the captures.
      execFileSync('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const link = (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string) => {
      ip('link', 'add', `${aIf}-${tag}`, 'netns', a, 'type', 'veth', 'peer', 'name', `${bIf}-${tag}`, 'netns', b);
      inNs(a, 'link', 'set', `${aIf}-${tag}`, 'name', aIf);
      inNs(b, 'link', 'set', `${bIf}-${tag}`, 'name', bIf);
      inNs(a, 'addr', 'add', aAddr, 'dev', aIf);
      inNs(b, 'addr', 'add', bAddr, 'dev', bIf);
      inNs(a, 'link', 'set', aIf, 'up');
      inNs(b, 'link', 'set', bIf, 'up');
    };
    link(ns.hostA, 'lan0', `${ADDR.hostA}/24`, ns.gwA, 'lan0', `${ADDR.gwALan}/24`);
    link(ns.gwA, 'wan0', `${ADDR.gwAWan}/24`, ns.gwB, 'wan0', `${ADDR.gwBWan}/24`);
    link(ns.gwB, 'lan0', `${ADDR.gwBLan}/24`, ns.hostB, 'lan0', `${ADDR.hostB}/24`);
    inNs(ns.hostA, 'route', 'add', 'default', 'via', ADDR.gwALan);
    inNs(ns.hostB, 'route', 'add', 'default', 'via', ADDR.gwBLan);
    for (const g of [ns.gwA, ns.gwB]) execFileSync('ip', ['netns', 'exec', g, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    ns,
    exec: (n, cmd, timeoutMs = 30_000) => execFileSync('ip', ['netns', 'exec', n, ...cmd], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString(),
    spawn: (n, cmd, options = {}) => {
      const c = spawn('ip', ['netns', 'exec', n, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
      children.add(c);
      c.once('exit', () => children.delete(c));
      return c;
    },
    destroy,
  };
}

/** A running tcpdump: what it printed so far, and a stop that returns every line. */
export interface Capture {
  /** The text printed so far (one line per packet with `-l`). */
  text(): string;
  /** Waits for tcpdump to end by itself (`-c`) for up to `graceMs`, else interrupts it; returns its non-empty lines. */
  stop(graceMs?: number): Promise<string[]>;
}

/**
 * Starts tcpdump in a namespace and resolves once it says it is listening (its "listening on"
 * line on stderr), so no packet sent after this resolves is missed, however loaded the machine.
 *
 * @example
 * const cap = await startCapture(t, t.ns.gwA, ['-i', 'wan0', '-nn', '-l', '-U', 'not', 'arp']);
 * ...; const lines = await cap.stop();
 */
export async function startCapture(t: Pick<Topology, 'spawn'>, ns: string, args: string[], readyMs = 15_000): Promise<Capture> {
  const c = t.spawn(ns, ['tcpdump', ...args]);
  let out = '';
  let err = '';
  c.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump ${args.join(' ')} did not start listening within ${readyMs} ms: ${err.trim()}`)), readyMs);
    c.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`tcpdump ${args.join(' ')} exited before listening: ${err.trim()}`));
    });
  });
  return {
    text: () => out,
    stop: async (graceMs = 300) => {
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGINT');
        await exited;
      }
      return out.split('\n').filter((l) => l.trim());
    },
  };
}

/**
 * Makes each frame on the WAN one packet, for tests that count packets with tcpdump: with UDP
 * GSO (native/tun/udp.c) a gateway hands a run of same-size ESP datagrams to the kernel as one
 * GSO packet, and a veth passes it on whole, so tcpdump prints one line for several datagrams.
 * `gso_max_segs 1` makes the sending device segment first, as a NIC without UDP segmentation
 * offload would; the datagrams are the same either way.
 *
 * @example
 * onePacketPerFrame(t); const cap = await startCapture(t, t.ns.gwA, ['-i', 'wan0', ...]);
 */
export function onePacketPerFrame(t: Pick<Topology, 'exec' | 'ns'>): void {
  for (const ns of [t.ns.gwA, t.ns.gwB]) t.exec(ns, ['ip', 'link', 'set', 'wan0', 'gso_max_segs', '1']);
}

/** Waits until a TCP port listens in a namespace (iperf3 -s, say), up to `ms`. */
export async function listening(t: Pick<Topology, 'exec'>, ns: string, port: number, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    if (t.exec(ns, ['ss', '-Hltn', `sport = :${port}`]).trim()) return;
  }
  throw new Error(`nothing listens on ${port} in ${ns} after ${ms} ms`);
}
