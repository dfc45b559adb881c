/**
 * Runs `child.ts` as a real process. It is bundled once per test file with esbuild (tsx's own
 * compiler, so always installed) into one plain `.mjs`: starting it then costs ~0.1 s instead of
 * tsx's ~0.5–1 s, which is what lets the kill test run 200 times in under a minute. If esbuild
 * cannot be loaded, it falls back to `node --import tsx`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'child.ts');

export interface ChildRunner {
  spawn(args: string[]): ChildProcessByStdio<null, Readable, Readable>;
  dispose(): Promise<void>;
}

export async function childRunner(): Promise<ChildRunner> {
  const out = await mkdtemp(join(tmpdir(), 'ipsec-es-child-'));
  let command: string[];
  try {
    const esbuild = await import('esbuild');
    const outfile = join(out, 'child.mjs');
    await esbuild.build({ entryPoints: [source], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'silent' });
    command = [outfile];
  } catch {
    command = ['--import', 'tsx', source];
  }
  return {
    spawn: (args) => spawn(process.execPath, [...command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    dispose: () => rm(out, { recursive: true, force: true }),
  };
}

/** Lines of a child's stdout as they come; `lines` holds the whole lines so far. */
export function lineReader(stream: Readable): { lines: string[]; next(match: (line: string) => boolean, timeoutMs?: number): Promise<string> } {
  const lines: string[] = [];
  let partial = '';
  const waiting: { match: (l: string) => boolean; resolve(l: string): void }[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i]!.match(line)) waiting.splice(i, 1)[0]!.resolve(line);
      }
    }
  });
  return {
    lines,
    next(match, timeoutMs = 20_000) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child printed no matching line in ${timeoutMs} ms; got: ${lines.slice(-5).join(' | ')}`)), timeoutMs);
        waiting.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

/** Resolves when the child has exited and its stdout is drained. */
export function exited(child: ChildProcessByStdio<null, Readable, Readable>): Promise<void> {
  return new Promise((resolve) => {
    let closed = child.exitCode !== null || child.signalCode !== null;
    if (closed && child.stdout.readableEnded) return resolve();
    child.once('close', () => {
      closed = true;
      resolve();
    });
  });
}
