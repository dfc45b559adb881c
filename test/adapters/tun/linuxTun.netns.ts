/**
 * Child process for linuxTun.test.ts, run as `ip netns exec ipsec-es-tun-… node --import tsx
 * linuxTun.netns.ts` inside a namespace made for it: runs the contract and the Linux-only cases
 * against real TUN devices, one line per case on stdout:
 *   TUNCASE {"name": ..., "ok": true|false, "error"?: ..., "skipped"?: why, "ms": ...}
 * and then one `TUNNOTES {...}` line with the measurements.
 */
import { linuxHarness, linuxOnlyCases } from './linuxTun.cases.js';
import { CaseSkipped, tunContractCases } from './tun.contract.js';

const notes = new Map<string, number | string>();
for (const c of [...tunContractCases, ...linuxOnlyCases]) {
  const h = linuxHarness(notes);
  const started = Date.now();
  let result: { name: string; ok: boolean; error?: string; skipped?: string };
  try {
    await c.run(h);
    result = { name: c.name, ok: true };
  } catch (error) {
    if (error instanceof CaseSkipped) result = { name: c.name, ok: true, skipped: error.message };
    else result = { name: c.name, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  try {
    await h.dispose();
  } catch (error) {
    if (result.ok) result = { name: c.name, ok: false, error: `dispose: ${String(error)}` };
  }
  console.log(`TUNCASE ${JSON.stringify({ ...result, ms: Date.now() - started })}`);
}
console.log(`TUNNOTES ${JSON.stringify(Object.fromEntries(notes))}`);
