/**
 * Starts our gateway processes in the e2e topology: `ipsec-es gateway` (cli/main.ts through tsx)
 * inside gateway A's and B's namespaces, with static keys, the embedded event log on disk and a
 * route to the other LAN through the TUN device. Resolves once each has said `started`.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { siteConfig, type SiteKeys } from './siteConfig.js';
import { controlRequest } from '../../cli/control.js';
import { ADDR, createTopology, e2eUnavailable, type Topology } from './topology.js';

const ROOT = resolve(import.meta.dirname, '../..');
// One process (no tsx wrapper between us and the gateway): signals reach it directly.
const NODE_ARGS = ['--import', 'tsx'];

export interface GatewayProcess {
  side: 'a' | 'b';
  child: ChildProcess;
  /** Its working directory (config) and event-store directory: start it again on these to restart. */
  dir: string;
  store: string;
  /** Every JSON line it printed. */
  lines: Array<Record<string, unknown>>;
  /** Rewrites its policy file and sends SIGHUP; resolves with the `reloaded` line. */
  reload(xml: string): Promise<Record<string, unknown>>;
  /** One request to its control socket. */
  control(request: { cmd: string; [arg: string]: unknown }): Promise<Record<string, unknown>>;
  /** Asks for a status line (SIGUSR2) and returns it. */
  status(): Promise<Record<string, unknown>>;
  /** SIGTERM; resolves with the exit code and the last status. */
  stop(): Promise<{ code: number | null; last: Record<string, unknown> | undefined }>;
}

export function newKeys(): SiteKeys {
  return { ab: { spi: 0x1000 + randomBytes(2).readUInt16BE(), key: randomBytes(20).toString('hex') }, ba: { spi: 0x20000 + randomBytes(2).readUInt16BE(), key: randomBytes(20).toString('hex') } };
}

/**
 * @example
 * const a = await startGateway(t, 'a', keys, dir);
 */
export async function startGateway(t: Topology, side: 'a' | 'b', keys: SiteKeys | SiteKeys[], dir = mkdtempSync(join(tmpdir(), 'ipsec-es-e2e-')), store = join(dir, `store-${side}`), options: { xml?: string; args?: string[] } = {}): Promise<GatewayProcess> {
  const config = join(dir, `${side}.xml`);
  writeFileSync(config, options.xml ?? siteConfig(side, keys));
  const [ns, peerLan] = side === 'a' ? [t.ns.gwA, ADDR.lanB] : [t.ns.gwB, ADDR.lanA];
  const child = t.spawn(ns, [process.execPath, ...NODE_ARGS, join(ROOT, 'cli/main.ts'), 'gateway', '--config', config, '--store', store, '--tun', 'ipsec0', '--route', peerLan, ...(options.args ?? [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        for (const w of waiters.splice(0)) w(line);
      } catch {
        /* not a status line */
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const next = (event: string, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway ${side}: no '${event}' within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const check = (line: Record<string, unknown>) => {
        if (line.event === event) {
          clearTimeout(timer);
          resolvePromise(line);
        } else waiters.push(check);
      };
      waiters.push(check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway ${side} exited (${code}) before '${event}'; stderr: ${stderr}`));
      });
    });
  await next('running');
  return {
    side, child, dir, store, lines,
    control: (request) => controlRequest(join(store, 'control.sock'), request),
    reload: async (xml: string) => {
      writeFileSync(config, xml);
      const p = next('reloaded');
      child.kill('SIGHUP');
      return p;
    },
    status: async () => {
      const p = next('status');
      child.kill('SIGUSR2');
      return p;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, last: lines.at(-1) };
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
      return { code, last: lines.filter((l) => l.event === 'stopping').at(-1) };
    },
  };
}

/**
 * Why the end-to-end tests cannot run here (root, iproute2, the TUN addon, the tools they call),
 * or undefined.
 *
 * @example
 * const why = e2eSkipReason(['iperf3']);
 */
export function e2eSkipReason(tools: readonly string[]): string | undefined {
  const missing = ['ping', ...tools].find((cmd) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`]);
      return false;
    } catch {
      return true;
    }
  });
  return e2eUnavailable() ?? (existsSync(join(ROOT, 'native/tun/build/Release/ipsec_es_tun.node')) ? undefined : 'the TUN addon is not built (npm run build:native)') ?? (missing ? `needs ${missing}` : undefined);
}

/**
 * One topology and its gateways per test file, always torn down (the namespaces too), with a
 * bound on how long stopping may take.
 *
 * @example
 * const lab = e2eLab(); it('...', async () => { const t = await lab.topology(); lab.running.push(await startGateway(t, 'a', keys)); });
 */
export function e2eLab(): { topology(): Promise<Topology>; running: GatewayProcess[] } {
  let t: Topology | undefined;
  const running: GatewayProcess[] = [];
  afterAll(async () => {
    try {
      await Promise.race([Promise.allSettled(running.map((g) => g.stop())), new Promise((r) => setTimeout(r, 10_000))]);
    } finally {
      t?.destroy();
    }
  }, 20_000);
  return { topology: async () => (t = await createTopology()), running };
}
