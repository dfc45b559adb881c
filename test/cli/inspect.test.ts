/**
 * `ipsec-es inspect` fed by a replay, watched in headless Chromium (Debian's, through
 * playwright-core): the page shows every SA machine of the log and the state the machine routes
 * its folded facts to, the same as `replay` says.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { json, ROOT, runCli } from './cliRunner.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))(`inspect in a browser${existsSync(CHROMIUM) ? '' : ' (skipped: needs /usr/bin/chromium)'}`, () => {
  it('the page fed by a replay shows each SA machine in the state replay gives it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-inspect-'));
    const tour = await new Promise<number | null>((resolve) => spawn(process.execPath, ['--import', 'tsx', 'demo/controlPlaneTour.ts'], { cwd: ROOT, env: { ...process.env, IPSEC_ES_DEMO_DIR: dir }, stdio: 'ignore' }).on('close', resolve));
    expect(tour).toBe(0);
    const store = join(dir, 'gateway-b');
    const replayed = json<{ sas: Record<string, { status: string }> }>(await runCli(['replay', store, '--json']));
    const expected = Object.fromEntries(Object.entries(replayed.sas).map(([id, s]) => [`sa-${id}`, s.status]));
    expect(Object.values(expected)).toContain('dead');
    expect(Object.values(expected)).toContain('mature');

    const inspector = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'inspect', store, '--rate', '200', '--exit'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Array<Record<string, unknown>> = [];
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      inspector.stdout.on('data', (c: Buffer) => {
        buffered += c.toString();
        for (const l of buffered.split('\n').slice(0, -1)) lines.push(JSON.parse(l) as Record<string, unknown>);
        buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
        const first = lines.find((l) => l.event === 'inspecting');
        if (first) resolve(String(first.url));
      });
      inspector.on('close', (code) => reject(new Error(`inspect exited ${code}`)));
    });
    const exited = new Promise<number | null>((resolve) => inspector.on('close', resolve));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(url);
      // The page opened while the replay runs (200 facts/s) and follows it live to the end.
      await page.getByTestId('status').filter({ hasText: 'replay done' }).waitFor({ timeout: 30_000 });
      const rows = await page.locator('tr[data-actor]').evaluateAll((trs) =>
        trs.map((el) => {
          // Browser-side code; the project's lib has no DOM types.
          const tr = el as unknown as { dataset: Record<string, string>; children: ArrayLike<{ textContent: string | null }> };
          return { actor: tr.dataset.actor!, state: tr.dataset.state!, machine: tr.children[0]!.textContent, facts: Number(tr.children[3]!.textContent) };
        }),
      );
      expect(rows.length).toBe(Object.keys(expected).length);
      for (const r of rows) {
        expect(r.machine).toBe('sa'); // the SA lifecycle machine's id, from its definition
        const status = expected[r.actor];
        // The machine's state value for the folded status: dead → 'dead', mature → 'live.mature', ...
        expect(r.state, r.actor).toBe(status === 'dead' ? 'dead' : `live.${status}`);
        expect(r.facts).toBeGreaterThan(0);
      }
      expect(await page.getByTestId('log').textContent()).toContain('installed: inbound ESP SPI');
    } finally {
      await browser.close();
    }
    expect(await exited).toBe(0);
    const done = lines.find((l) => l.event === 'replayed') as { states: Record<string, string> };
    expect(Object.fromEntries(Object.entries(done.states).map(([id, s]) => [`sa-${id}`, s]))).toEqual(expected);
  }, 90_000);
});
