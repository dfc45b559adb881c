/**
 * The CLI against real gateway processes (two gateways in network namespaces, test/e2e): the
 * swanctl-like verbs over the control socket, `capture` of the wire decrypted by tshark with the
 * `esp_sa` table `export-wireshark` wrote from the sealed key store, the Prometheus endpoint, and
 * `replay --until` at three points of the live run giving the states the gateway had then.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eLab, e2eSkipReason, newKeys, startGateway } from '../e2e/gateways.js';
import { siteConfig } from '../e2e/siteConfig.js';
import { ADDR } from '../e2e/topology.js';
import { json, runCli } from './cliRunner.js';

const why = e2eSkipReason(['tshark', 'curl']);

interface Row { id: string; status: string; spi: number; direction: string; usage: { packets: number } }

describe.skipIf(why !== undefined)(`the CLI against running gateways${why ? ` (skipped: ${why})` : ''}`, () => {
  const lab = e2eLab();

  it('list-sas/list-pols/stats/terminate/rekey/initiate, capture + export-wireshark decrypted by tshark, metrics, replay --until at three points', async () => {
    const t = await lab.topology();
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-cli-e2e-'));
    writeFileSync(join(dir, 'kek'), randomBytes(32).toString('hex'));
    const gen1 = newKeys();
    const gen2 = newKeys();
    const a = await startGateway(t, 'a', gen1, dir, join(dir, 'store-a'), { args: ['--kek', `file:${join(dir, 'kek')}`, '--metrics', '9479'] });
    const b = await startGateway(t, 'b', gen1);
    lab.running.push(a, b);
    const store = ['--store', a.store];
    const listSas = async () => json<{ sas: Row[]; position: string }>(await runCli(['list-sas', ...store, '--json']));
    const states = (sas: Row[]) => Object.fromEntries(sas.map((s) => [s.id, s.status]));
    const points: Array<{ position: string; states: Record<string, string> }> = [];

    // 1. Up: both SAs mature. The human table shows them too.
    let now = await listSas();
    expect(states(now.sas)).toEqual({ 'sa-out': 'mature', 'sa-in': 'mature' });
    expect(now.sas.find((s) => s.id === 'sa-out')!.spi).toBe(gen1.ab.spi);
    points.push({ position: now.position, states: states(now.sas) });
    const table = await runCli(['list-sas', ...store]);
    // The SPI printed as eight hex digits (newKeys draws it from 0x1000–0x10fff, so it is not always 0x0000….).
    const spiHex = `0x${gen1.ab.spi.toString(16).padStart(8, '0')}`;
    expect(table.stdout).toMatch(new RegExp(`sa-out\\s+mature\\s+outbound\\s+${spiHex}\\s+tunnel\\s+192\\.0\\.2\\.1 → 192\\.0\\.2\\.2\\s+aes128gcm16\\s+lan-out`));
    const pols = json<{ policies: Array<{ id: string; action: string; selectors: string[] }> }>(await runCli(['list-pols', ...store, '--json'])).policies;
    expect(pols.find((p) => p.id === 'lan-out')).toMatchObject({ action: 'protect', selectors: ['10.1.0.0/24 → 10.2.0.0/24'] });

    // 2. Capture the wire while pinging; tshark decrypts it with the exported esp_sa table.
    const pcap = join(dir, 'wire.pcapng');
    const capturing = runCli(['capture', ...store, '--out', pcap, '--count', '10', '--seconds', '15']);
    for (let i = 0; i < 100 && (await a.control({ cmd: 'capture.status' })).capturing !== true; i++) await new Promise((r) => setTimeout(r, 100));
    expect(t.exec(t.ns.hostA, ['ping', '-c', '5', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
    const captured = await capturing;
    expect(captured.stderr).toBe('');
    expect(captured.stdout).toContain(`10 packets written to ${pcap}`);
    const profile = join(dir, 'xdg');
    mkdirSync(join(profile, 'wireshark'), { recursive: true });
    const exported = await runCli(['export-wireshark', a.store, '--kek', `file:${join(dir, 'kek')}`, '--out', join(profile, 'wireshark', 'esp_sa')]);
    expect(exported.stdout).toContain('wrote 2 SAs');
    expect(statSync(join(profile, 'wireshark', 'esp_sa')).mode & 0o777).toBe(0o600);
    // The key store stays locked to another KEK (exit 4) and to none (exit 4, says how to make one).
    writeFileSync(join(dir, 'kek2'), randomBytes(32).toString('hex'));
    expect(await runCli(['export-wireshark', a.store, '--kek', `file:${join(dir, 'kek2')}`, '--sa', 'sa-out'])).toMatchObject({ status: 4, stderr: expect.stringContaining('does not open with this KEK') });
    expect(await runCli(['export-wireshark', a.store, '--kek', 'env:IPSEC_ES_NO_SUCH_KEK'])).toMatchObject({ status: 4, stderr: expect.stringContaining('openssl rand -hex 32') });
    writeFileSync(join(profile, 'wireshark', 'preferences'), 'esp.enable_encryption_decode: TRUE\n');
    const tshark = (env: Record<string, string>) => execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'esp.spi', '-e', 'icmp.type', '-e', 'ip.src', '-e', 'ip.dst', '-E', 'separator=|'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n');
    const decrypted = tshark({ XDG_CONFIG_HOME: profile, HOME: profile });
    // Each line: SPI | ICMP type (8 request, 0 reply) | outer,inner source | outer,inner destination.
    const spi = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
    expect(decrypted.filter((l) => l === `${spi(gen1.ab.spi)}|8|192.0.2.1,10.1.0.10|192.0.2.2,10.2.0.10`)).toHaveLength(5);
    expect(decrypted.filter((l) => l === `${spi(gen1.ba.spi)}|0|192.0.2.2,10.2.0.10|192.0.2.1,10.1.0.10`)).toHaveLength(5);
    // Without the table tshark sees ESP and no ICMP: the table did the decrypting.
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'wireshark'), { recursive: true });
    expect(tshark({ XDG_CONFIG_HOME: empty, HOME: empty }).filter((l) => l.split('|')[1] !== '')).toHaveLength(0);

    // 3. stats: per-SA usage after the pings; initiate needs an IKE connection; rekey without a new generation is refused.
    const st = json<{ perSa: Array<{ id: string; usage: { packets: number } }>; drops: Record<string, number> }>(await runCli(['stats', ...store, '--json']));
    expect(st.perSa.find((s) => s.id === 'sa-out')!.usage.packets).toBeGreaterThanOrEqual(5);
    const init = await runCli(['initiate', ...store, '--policy', 'lan-out']);
    expect(init).toMatchObject({ status: 1, stderr: expect.stringContaining('no IKE connection (<conn-entry>)') });
    const noGen = await runCli(['rekey', ...store, '--sa', 'sa-out']);
    expect(noGen).toMatchObject({ status: 1, stderr: expect.stringContaining('holds no new key generation for sa-out') });
    expect(await runCli(['terminate', ...store, '--sa', 'nope'])).toMatchObject({ status: 1, stderr: expect.stringContaining('no SA nope') });

    // 4. Rekey: the next generation in both files; A by the rekey verb, B by SIGHUP.
    writeFileSync(join(dir, 'a.xml'), siteConfig('a', [gen1, gen2]));
    const rekeyed = json<{ replaced: string[]; by: string[] }>(await runCli(['rekey', ...store, '--sa', 'sa-in', '--json']));
    expect(rekeyed).toMatchObject({ replaced: ['sa-out', 'sa-in'], by: ['sa-out-2', 'sa-in-2'] });
    await b.reload(siteConfig('b', [gen1, gen2]));
    expect(t.exec(t.ns.hostA, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ADDR.hostB])).toMatch(/ 0% packet loss/);
    now = await listSas();
    expect(states(now.sas)['sa-out-2']).toBe('mature');
    points.push({ position: now.position, states: states(now.sas) });

    // 5. terminate: the new pair, reason operator.
    const term = json<{ deleted: string[] }>(await runCli(['terminate', ...store, '--sa', 'sa-out-2', '--json']));
    expect(term.deleted).toEqual(['sa-out-2', 'sa-in-2']);
    now = await listSas();
    expect(states(now.sas)).toMatchObject({ 'sa-out-2': 'dead', 'sa-in-2': 'dead' });
    points.push({ position: now.position, states: states(now.sas) });
    expect(() => t.exec(t.ns.hostA, ['ping', '-c', '1', '-W', '1', ADDR.hostB])).toThrow();

    // 6. Metrics from inside A's namespace.
    const metrics = t.exec(t.ns.gwA, ['curl', '-sf', 'http://127.0.0.1:9479/metrics']);
    expect(metrics).toMatch(/^ipsec_es_sas\{state="dead"\} [2-4]$/m);
    expect(metrics).toMatch(/^ipsec_es_sa_packets_total\{sa="sa-out",direction="outbound",spi="0x[0-9a-f]{8}"\} \d+$/m);
    expect(metrics).toMatch(/^ipsec_es_drops_total\{reason="authFailed"\} 0$/m);
    const appends = Number(/^ipsec_es_store_append_seconds_count (\d+)$/m.exec(metrics)?.[1]);
    expect(appends).toBeGreaterThan(5);
    expect(metrics).toMatch(new RegExp(`^ipsec_es_store_append_seconds_bucket\\{le="\\+Inf"\\} ${appends}$`, 'm'));

    // 7. replay --until each point (the log read while A runs, no lock taken) = what list-sas said then.
    for (const p of points) {
      const then = json<{ position: string; sas: Record<string, { status: string }> }>(await runCli(['replay', a.store, '--until', p.position, '--json']));
      expect(then.position).toBe(p.position);
      expect(Object.fromEntries(Object.entries(then.sas).map(([id, s]) => [id, s.status]))).toEqual(p.states);
    }
    // ... and a timeline says why each SA died.
    const tl = await runCli(['timeline', a.store, '--sa', 'sa-out-2']);
    expect(tl.stdout).toMatch(/^SA sa-out-2: died .*: by the operator$/m);
    expect((await runCli(['timeline', a.store, '--sa', 'sa-out'])).stdout).toContain('replaced by sa-out-2, which now carries the traffic');
    const stopped = await a.stop();
    expect(stopped.code).toBe(0);
    // Dead SAs' keys are shredded: nothing left to export.
    expect(await runCli(['export-wireshark', a.store, '--kek', `file:${join(dir, 'kek')}`])).toMatchObject({ status: 1, stderr: expect.stringContaining('has keys available') });
  }, 120_000);
});
