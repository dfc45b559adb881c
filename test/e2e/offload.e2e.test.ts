/**
 * Offload on one side (issue 6): gateway A runs the emulated NIC with room for one SA. Its
 * inbound SA goes to the NIC (the NIC's counters show it decrypting), its outbound SA finds the
 * NIC full and stays in software with the reason in the log; an injected SaDeleteReq deletes the
 * inbound SA and its outbound pair once each, and traffic recovers after a (manual) rekey.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eLab, e2eSkipReason, newKeys, startGateway } from './gateways.js';
import { siteConfig } from './siteConfig.js';
import { ADDR, type Topology } from './topology.js';

const why = e2eSkipReason([]);
const ping = (t: Topology, n = 5) => t.exec(t.ns.hostA, ['ping', '-c', String(n), '-i', '0.2', '-W', '2', ADDR.hostB]);

describe.skipIf(why !== undefined)(`offload on one side${why ? ` (skipped: ${why})` : ''}`, () => {
  const lab = e2eLab();
  const running = lab.running;

  it('NIC decrypts the inbound SA, capacity sends the outbound to software, SaDeleteReq deletes both once, a rekey brings traffic back', async () => {
    const t = await lab.topology();
    const gen1 = newKeys();
    const gen2 = newKeys();
    const aXml = (gens: typeof gen1[]) => siteConfig('a', gens, { offload: true, inboundFirst: true });
    const a = await startGateway(t, 'a', gen1, mkdtempSync(join(tmpdir(), 'ipsec-es-e2e-')), undefined, { xml: aXml([gen1]), args: ['--offload', 'emulated:1'] });
    const b = await startGateway(t, 'b', gen1);
    running.push(a, b);
    expect(ping(t)).toMatch(/ 0% packet loss/);
    let s = await a.control({ cmd: 'status' });
    const nic = s.nic as { rxCryptoDone: number; txPackets: number; sas: number };
    expect(nic.sas).toBe(1);
    expect(nic.rxCryptoDone).toBeGreaterThanOrEqual(5); // the echo replies, decrypted by the NIC
    const facts = (await a.control({ cmd: 'facts' })).facts as Array<{ stream: string; type: string; data: Record<string, unknown> }>;
    expect(facts.find((f) => f.stream === 'sa-sa-in' && f.type === 'SaOffloaded')).toBeDefined();
    expect(facts.find((f) => f.stream === 'sa-sa-out' && f.type === 'SaOffloadRejected')?.data).toEqual({ nic: 'nic0', reason: 'capacity' });

    // The NIC flags the next packet over the inbound SA with SaDeleteReq; a burst of flagged traffic follows.
    await a.control({ cmd: 'nic.requestDelete', saId: 'sa-in' });
    expect(ping(t, 1)).toMatch(/ 0% packet loss/); // the flagged reply was CryptoDone: still accepted
    await new Promise((r) => setTimeout(r, 300));
    expect(() => ping(t, 3)).toThrow(); // then the SA pair is gone on A: no more tunnel
    s = await a.control({ cmd: 'status' });
    const sas = Object.fromEntries((s.sas as Array<{ id: string; status: string }>).map((x) => [x.id, x.status]));
    expect(sas).toEqual({ 'sa-in': 'dead', 'sa-out': 'dead' });
    const after = (await a.control({ cmd: 'facts' })).facts as Array<{ stream: string; type: string; data: Record<string, unknown> }>;
    expect(after.filter((f) => f.type === 'SaDeleteRequestedByNic').map((f) => f.stream)).toEqual(['sa-sa-in']);
    for (const id of ['sa-in', 'sa-out']) expect(after.filter((f) => f.stream === `sa-${id}` && f.type === 'SaDeleted').map((f) => f.data)).toEqual([{ reason: 'nicRequest' }]);
    expect((s.nic as { sas: number }).sas).toBe(0); // DELETE_SA came from the stack

    // A manual rekey: both sides get the next generation; traffic comes back, the new inbound SA on the NIC.
    await Promise.all([a.reload(aXml([gen1, gen2])), b.reload(siteConfig('b', [gen1, gen2]))]);
    expect(ping(t)).toMatch(/ 0% packet loss/);
    s = await a.control({ cmd: 'status' });
    expect((s.nic as { sas: number }).sas).toBe(1);
  }, 90_000);
});
