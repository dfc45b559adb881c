/**
 * The examples type-check (strict, with the project's settings) and run: each exits 0 and says
 * what it showed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/cliRunner.js';

const run = (file: string, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', file), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

describe('examples', () => {
  it('type-check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-examples-'));
    const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'examples', f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, rootDir: ROOT, typeRoots: [join(ROOT, 'node_modules/@types')] }, files, include: [] }));
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    // Errors in the examples (the rest of the tree has `npx tsc --noEmit` of its own).
    const ours = r.stdout.split('\n').filter((l) => l.includes('examples/') || /^error TS/.test(l));
    expect(ours).toEqual([]);
    expect(r.stdout + r.stderr).not.toMatch(/Cannot find|TS5\d\d\d|TS6\d\d\d/);
  }, 60_000);

  it('embedGateway: facts followed live, packets delivered; replayLog reads its log back; filterHook drops by payload', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-example-log-'));
    const embed = run('embedGateway.ts', dir);
    expect(embed.status, embed.stderr).toBe(0);
    expect(embed.stdout).toMatch(/fact #1 acquire-\S+\s+AcquireRaised/);
    expect(embed.stdout).toContain('B delivered 3 packets');
    const replay = run('replayLog.ts', dir);
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/^\d+ facts; at the end 2 SAs: mature, mature$/m);
    expect(replay.stdout).toContain('installed: outbound ESP SPI');
    const hook = run('filterHook.ts');
    expect(hook.status, hook.stderr).toBe(0);
    expect(hook.stdout).toContain('dropped 3; delivered payloads 2, 4, 6');
  }, 60_000);
});
