/**
 * Starts rawGatewayMain.ts (a gateway carrying ESP as IP protocol 50) in a gateway namespace of
 * the e2e topology and talks to it through its JSON lines and signals, as gateways.ts does for
 * `ipsec-es gateway`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Topology } from './topology.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface RawGatewayProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** Asks for a status line (SIGUSR2) and returns it. */
  status(): Promise<Record<string, unknown>>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * @example
 * const a = await startRawGateway(t, t.ns.gwA, 'a', xml, { routes: [ADDR.lanB] });
 */
export async function startRawGateway(t: Topology, ns: string, name: string, xml: string, options: { listen?: string; routes?: string[] } = {}): Promise<RawGatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-raw-e2e-'));
  writeFileSync(join(dir, `${name}.xml`), xml);
  const args = ['--config', join(dir, `${name}.xml`), '--store', join(dir, 'store'), ...(options.listen ? ['--listen', options.listen] : []), ...(options.routes ?? []).flatMap((r) => ['--route', r])];
  const child = t.spawn(ns, [process.execPath, '--import', 'tsx', join(ROOT, 'test/e2e/rawGatewayMain.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
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
      const timer = setTimeout(() => reject(new Error(`raw gateway ${name}: no '${event}' within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const check = (line: Record<string, unknown>) => {
        if (line.event !== event) return void waiters.push(check);
        clearTimeout(timer);
        resolvePromise(line);
      };
      waiters.push(check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`raw gateway ${name} exited (${code}) before '${event}'; stderr: ${stderr}`));
      });
    });
  await next('running');
  return {
    child,
    lines,
    status: async () => {
      const p = next('status');
      child.kill('SIGUSR2');
      return p;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
