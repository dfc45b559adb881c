/**
 * Two strongSwan charons (Debian's package, kernel-libipsec: CHILD SAs live in charon's memory,
 * ESP in UDP, as ours) in two network namespaces, for `bench/ike.bench.ts`: one initiator, one
 * responder, PSK, the same proposals as ours. How to run charon per namespace follows
 * `shared/peers/strongswan/run.sh` (its own strongswan.conf through STRONGSWAN_CONF, its own
 * VICI socket, a private /run for the compiled-in PID file). Handshakes are driven over VICI
 * (`initiate` waits for the CHILD SA, `terminate` for the DELETE), c at a time, as `swanctl
 * --initiate` would without a process per handshake; Debian ships no load-tester plugin. As for
 * ours, the initiator has one connection per proposal and worker (`p<k>w<j>`, identical but for
 * the name), so each worker terminates its own IKE SA by connection name.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { viciConnect, type ViciMessage, type ViciSession } from './ikeVici.js';

export const CHARON = process.env.CHARON ?? '/usr/lib/ipsec/charon';
export const SWANCTL = process.env.SWANCTL ?? 'swanctl';

/** Why charon cannot run here, or undefined. */
export function charonUnavailable(): string | undefined {
  if (!existsSync(CHARON)) return `${CHARON} is not installed (apt-get install strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins libcharon-extra-plugins)`;
  try {
    execFileSync('sh', ['-c', `command -v ${SWANCTL}`], { stdio: 'ignore' });
  } catch {
    return 'swanctl is not installed (strongswan-swanctl)';
  }
  if (!existsSync('/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so')) return 'kernel-libipsec is not installed (libcharon-extra-plugins)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun (kernel-libipsec needs it)';
  return undefined;
}

/** `charon --version`'s first line. */
export function charonVersion(): string {
  try {
    return execFileSync(CHARON, ['--version'], { encoding: 'utf8', timeout: 5_000 }).split('\n')[0]!.trim();
  } catch {
    return 'charon (version unknown)';
  }
}

export interface CharonSide {
  name: 'initiator' | 'responder';
  ns: string;
  address: string;
  peerAddress: string;
  id: string;
  peerId: string;
  net: string;
  peerNet: string;
}

export interface CharonPairOptions {
  dir: string;
  initiator: CharonSide;
  responder: CharonSide;
  psk: string;
  /** IKE proposals in strongSwan's syntax; the initiator gets `workers` connections per proposal, the responder one with all. */
  ikeProposals: readonly string[];
  /** Handshakes in flight at most. */
  workers: number;
  esp: string;
}

export interface CharonPair {
  vici(side: 'initiator' | 'responder'): string;
  /** The initiator's connection for proposal k and worker j. */
  conn(k: number, j: number): string;
  log(side: 'initiator' | 'responder'): string;
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * strongswan.conf of one instance: the plugins of the harness without the ones IKE does not use
 * here, the same retransmission schedule as ours (0.5 s doubling, 5 tries), short MODP exponents
 * as ours, DoS thresholds out of the way of c concurrent set-ups from one address (ours answers
 * without cookies up to 32 half-open SAs), log level 0, and enough threads for the VICI commands
 * that wait (each holds a thread: 16 + 2 per worker).
 */
function strongswanConf(dir: string, workers: number): string {
  return `charon {
    threads = ${16 + 2 * workers}
    load_modular = no
    load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pubkey x509 kernel-libipsec kernel-netlink socket-default vici
    port = 500
    port_nat_t = 4500
    install_routes = no
    install_virtual_ip = no
    retransmit_timeout = 0.5
    retransmit_base = 2
    retransmit_tries = 4
    # Short MODP exponents, as ours (RFC 3526 §8): the default (ANSI X9.42) uses 2048-bit ones.
    dh_exponent_ansi_x9_42 = no
    cookie_threshold = 1000
    cookie_threshold_ip = 1000
    block_threshold = 1000
    init_limit_half_open = 0
    # A new IKE SA per initiate, as ours with one connection entry per worker (by default charon
    # would put the CHILD SA into another worker's IKE SA of an equal connection, and skip it as a duplicate).
    reuse_ikesa = no
    plugins {
        vici { socket = unix://${dir}/charon.vici }
        kernel-libipsec { allow_peer_ts = no }
        kernel-netlink { roam_events = no }
        socket-default { use_ipv6 = no }
    }
    filelog {
        charonlog {
            path = ${dir}/charon.log
            append = no
            flush_line = yes
            default = 0
            ike_name = yes
        }
    }
}
swanctl {
    socket = unix://${dir}/charon.vici
}
`;
}

function swanctlConf(o: CharonPairOptions, side: CharonSide): string {
  const conn = (name: string, proposals: string) => `    ${name} {
        version = 2
        local_addrs = ${side.address}
        remote_addrs = ${side.peerAddress}
        encap = yes
        mobike = no
        unique = never
        proposals = ${proposals}
        local { auth = psk
            id = ${side.id} }
        remote { auth = psk
            id = ${side.peerId} }
        children {
            net {
                mode = tunnel
                local_ts = ${side.net}
                remote_ts = ${side.peerNet}
                esp_proposals = ${o.esp}
                start_action = none
            }
        }
    }
`;
  const conns = side.name === 'initiator' ? o.ikeProposals.flatMap((p, k) => Array.from({ length: o.workers }, (_, j) => conn(`p${k}w${j}`, p))).join('') : conn('bench', o.ikeProposals.join(','));
  return `connections {
${conns}}
secrets {
    ike-bench {
        id-a = ${side.id}
        id-b = ${side.peerId}
        secret = "${o.psk}"
    }
}
`;
}

/**
 * Starts both charons, waits for their VICI sockets, loads the connections.
 *
 * @example
 * const pair = await startCharonPair({ dir, initiator, responder, psk, ikeProposals: ['aes256-sha256-modp2048'], esp: 'aes256gcm16' });
 */
export async function startCharonPair(o: CharonPairOptions): Promise<CharonPair> {
  const procs: ChildProcess[] = [];
  const dirOf = (side: 'initiator' | 'responder') => join(o.dir, `charon-${side}`);
  const stop = async () => {
    await Promise.all(
      procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }),
    );
  };
  try {
    for (const side of [o.initiator, o.responder]) {
      const d = dirOf(side.name);
      mkdirSync(join(d, 'run'), { recursive: true });
      writeFileSync(join(d, 'strongswan.conf'), strongswanConf(d, o.workers));
      writeFileSync(join(d, 'swanctl.conf'), swanctlConf(o, side), { mode: 0o600 });
      // charon's PID file is compiled in (/var/run/charon.pid): a private /run per instance
      // (ip netns exec already gives each command its own mount namespace).
      const p = spawn('ip', ['netns', 'exec', side.ns, 'sh', '-c', 'mount --bind "$1" /run && exec "$2"', 'sh', join(d, 'run'), CHARON], {
        env: { ...process.env, STRONGSWAN_CONF: join(d, 'strongswan.conf') },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      procs.push(p);
      const end = Date.now() + 15_000;
      for (;;) {
        if (p.exitCode !== null) throw new Error(`charon (${side.name}) exited with ${p.exitCode}; see ${join(d, 'charon.log')}`);
        try {
          const v = await viciConnect(join(d, 'charon.vici'));
          await v.command('stats');
          v.close();
          break;
        } catch {
          if (Date.now() > end) throw new Error(`charon (${side.name}): VICI not reachable after 15 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      execFileSync(SWANCTL, ['--load-all', '--noprompt', '--file', join(d, 'swanctl.conf')], { env: { ...process.env, STRONGSWAN_CONF: join(d, 'strongswan.conf') }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    vici: (side) => join(dirOf(side), 'charon.vici'),
    conn: (k, j) => `p${k}w${j}`,
    log: (side) => join(dirOf(side), 'charon.log'),
    pids: () => procs.map((p) => p.pid!).filter(Boolean),
    stop,
  };
}

/** What a run of handshakes gave: as `ikePeerMain`'s `result`. */
export interface HandshakeRun {
  ok: number;
  failed: number;
  ms: number;
  latencyMs: { p50: number; p90: number; max: number };
  /** How long the deletes took (a slow one waited for retransmissions). */
  deleteMs: { p50: number; p90: number; max: number };
  /** Deletes that took over a second. */
  slowDeletes: number;
  errors: string[];
}

/** Median, 90th percentile and maximum of latencies in ms. */
export function latencySummary(latencies: number[]): HandshakeRun['latencyMs'] {
  const s = [...latencies].sort((a, b) => a - b);
  const q = (p: number) => Math.round((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN) * 100) / 100;
  return { p50: q(0.5), p90: q(0.9), max: q(1) };
}

/** c VICI connections, opened one at a time (charon's socket has a short listen backlog: EAGAIN when it is full). */
export async function viciWorkers(path: string, c: number): Promise<ViciSession[]> {
  const workers: ViciSession[] = [];
  for (let k = 0; k < c; k++) {
    for (let attempt = 0; ; attempt++) {
      try {
        workers.push(await viciConnect(path));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt > 50) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  return workers;
}

/**
 * Handshakes until `n` are done or `ms` have passed, one loop per worker (worker j uses
 * connection `conn(j)`): VICI `initiate` (returns when the CHILD SA is up, i.e. after IKE_AUTH),
 * then `terminate` of that connection's IKE SA (returns when the DELETE is answered).
 *
 * @example
 * const r = await charonHandshakes(await viciWorkers(pair.vici('initiator'), 8), (j) => pair.conn(0, j), { n: 1000, ms: 3000 });
 */
export async function charonHandshakes(workers: ViciSession[], conn: (j: number) => string, limit: { n: number; ms: number }): Promise<HandshakeRun> {
  const latencies: number[] = [];
  const deletes: number[] = [];
  const errors: string[] = [];
  let started = 0;
  let failed = 0;
  const t0 = performance.now();
  const deadline = t0 + limit.ms;
  await Promise.all(
    workers.map(async (vici, j) => {
      const ike = conn(j);
      while (started < limit.n && performance.now() < deadline) {
        started++;
        const t = performance.now();
        const r = await vici.command('initiate', { child: 'net', ike, timeout: '0', 'init-limits': 'no', loglevel: '-1' });
        if (r.success === 'yes') latencies.push(performance.now() - t);
        else {
          failed++;
          if (errors.length < 5) errors.push(String(r.errmsg));
        }
        const td = performance.now();
        const d = await vici.command('terminate', { ike, timeout: '0', loglevel: '-1' });
        if (r.success === 'yes') deletes.push(performance.now() - td);
        if (r.success === 'yes' && d.success !== 'yes' && errors.length < 5) errors.push(`terminate ${ike}: ${String(d.errmsg)}`);
      }
    }),
  );
  return { ok: latencies.length, failed, ms: performance.now() - t0, latencyMs: latencySummary(latencies), deleteMs: latencySummary(deletes), slowDeletes: deletes.filter((d) => d > 1000).length, errors };
}

/** charon's IKE SA count (`stats`): total and half-open. */
export async function charonIkeSas(path: string): Promise<{ total: number; halfOpen: number }> {
  const v = await viciConnect(path);
  try {
    const s = await v.command('stats');
    const ikesas = s.ikesas as ViciMessage | undefined;
    return { total: Number(ikesas?.total ?? NaN), halfOpen: Number(ikesas?.['half-open'] ?? NaN) };
  } finally {
    v.close();
  }
}
