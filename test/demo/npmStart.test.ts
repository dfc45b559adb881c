/**
 * `npm start` from a clean clone: `git clone` of this repository into a temporary directory,
 * node_modules linked from this checkout (an offline `npm ci` would need the registry's
 * tarballs; the clone's own files are what is tested), then the tour as a person runs it. Its
 * output, and the log it leaves, read back by the CLI it prints.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { ROOT } from '../cli/cliRunner.js';

describe('npm start from a clean clone', () => {
  it('runs both tours in under a minute, prints a timeline and the commands to read the log, which work', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ipsec-es-clone-'));
    const clone = join(work, 'ipsec-es');
    execFileSync('git', ['clone', '-q', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const logs = join(work, 'logs');
    const started = Date.now();
    const r = spawnSync('npm', ['start'], { cwd: clone, encoding: 'utf8', env: { ...process.env, IPSEC_ES_DEMO_DIR: logs }, timeout: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(r.status, r.stderr).toBe(0);
    expect(seconds).toBeLessThan(60);
    const out = r.stdout;
    expect(out).toMatch(/aes128gcm16\s+84 → \d+\s+\d+ B\s+ok/); // every suite round-trips
    expect(out).not.toContain('MISMATCH');
    expect(out).toContain('Engine tour done');
    expect(out).toMatch(/the NIC raised SaDeleteReq\s+SAs live A 0 \/ B 2/);
    expect(out).toContain('Control plane tour done');
    const facts = Number(/Gateway A's log: (\d+) facts/.exec(out)?.[1]);
    const first = /The life of its first outbound SA (\S+):/.exec(out)?.[1];
    expect(first).toBeDefined();
    expect(out).toMatch(/rekey started(?: by the peer)?: successor/); // whichever side's jitter ran out first
    expect(out).toMatch(/deleted: replaced by its successor after the drain period/);

    // The log it left: as many facts as it said, the SA's life as printed.
    const store = await fileLogEventStore({ directory: join(logs, 'gateway-a') });
    const log = await readLog(store);
    await store.close();
    expect(log).toHaveLength(facts);
    expect(log.filter((l) => l.streamName === `sa-${first}`).map((l) => l.fact.type)).toEqual(expect.arrayContaining(['SaInstalled', 'SaOffloaded', 'SaSoftExpired', 'RekeyStarted', 'RekeyCompleted', 'SaDeleted']));

    // The printed command, run as printed (in the clone).
    const command = /^ {2}(npx tsx cli\/main\.ts timeline .*)$/m.exec(out)?.[1];
    expect(command).toBeDefined();
    const tl = spawnSync('sh', ['-c', command!], { cwd: clone, encoding: 'utf8', timeout: 30_000 });
    expect(tl.status, tl.stderr).toBe(0);
    expect(tl.stdout).toMatch(new RegExp(`^SA ${first}: died .*: replaced by its successor after the drain period$`, 'm'));
    console.log(`npm start from a clean clone: ${seconds.toFixed(1)} s`);
  }, 90_000);
});
