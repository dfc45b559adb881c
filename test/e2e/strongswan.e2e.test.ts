/**
 * Interop with strongSwan (Debian's charon + swanctl, kernel-libipsec) in network namespaces,
 * through the shared harness (`../shared/peers/strongswan/run.sh peer-right`): strongSwan is the
 * right gateway, ours (`ipsec-es gateway`, IKE-keyed, real TUN, ESP-in-UDP) the left. Our gateway as initiator (the
 * first packet raises ACQUIRE) and as responder (swanctl --initiate, IKE on port 500 floating to
 * 4500); AES-GCM and AES-CBC+HMAC-SHA-256 ESP; DH 14, 19 and 31; ping and TCP (iperf3) through
 * the tunnel; CHILD and IKE SA rekeys started by either side under a continuous ping; DELETE from
 * either side honoured.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eSkipReason } from './gateways.js';
import { ikeSiteXml, pskHex } from './ikeSiteConfig.js';
import { listening, lockE2e } from './topology.js';

const ROOT = resolve(import.meta.dirname, '../..');
const HARNESS = resolve(ROOT, '../shared/peers/strongswan/run.sh');
const PSK = 'interop-psk-0123456789abcdef-not-secret';
const CHARON = '/usr/lib/ipsec/charon';
const skip = e2eSkipReason(['iperf3', 'swanctl']) ?? (existsSync(CHARON) && existsSync(HARNESS) ? undefined : `needs strongSwan (${CHARON}) and ${HARNESS}`);
const env = { ...process.env, STRONGSWAN_CONF: '/tmp/ssA/right/strongswan.conf' };

const sh = (cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}) => execFileSync(cmd, args, { encoding: 'utf8', env: options.env ?? env, timeout: options.timeout ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
const swanctl = (...args: string[]) => sh('swanctl', args);
/** Pings rhost from lhost; asynchronous, so our gateway's output keeps being read meanwhile. */
const ping = (count: number, interval = '0.2') =>
  new Promise<string>((resolve) => {
    const p = spawn('ip', ['netns', 'exec', 'ssA-lhost', 'ping', '-c', String(count), '-i', interval, '-W', '2', '10.22.0.2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('exit', () => resolve(out));
  });
const received = (out: string) => Number(/(\d+) received/.exec(out)?.[1] ?? 0);
const until = async (what: string, check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
};

interface Ours {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** An `ipsec-es` verb against our gateway (its store); exits 0 or throws with its output. */
  cli(args: string[]): Promise<Record<string, unknown>>;
  facts(pred?: (d: Record<string, unknown>) => boolean): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** strongSwan's right side with these proposals, and our left gateway with a matching file. */
async function start(o: { ike: string; esp: string; ourPsk?: string; ours?: { ike: string[]; esp: string[]; childSoft?: number; childHard?: number; ikeRekey?: number; ikeOver?: number } }): Promise<Ours> {
  sh(HARNESS, ['clean'], { env: process.env });
  sh(HARNESS, ['peer-right'], { env: { ...process.env, KEEP: '1', PEER_PSK: PSK, PEER_IKE: o.ike, PEER_ESP: o.esp }, timeout: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-swan-'));
  writeFileSync(join(dir, 'psk'), pskHex(o.ourPsk ?? PSK));
  const xml = ikeSiteXml({
    name: 'gw', local: { address: '192.0.2.1', id: 'left.ssa.test', net: '10.11.0.0/24' }, remote: { address: '192.0.2.2', id: 'right.ssa.test', net: '10.22.0.0/24' },
    pskRef: `file:${join(dir, 'psk')}`, ikeProposals: o.ours?.ike ?? [o.ike], espSuites: o.ours?.esp ?? [o.esp],
    ...(o.ours?.childSoft ? { childSoft: o.ours.childSoft } : {}), ...(o.ours?.childHard ? { childHard: o.ours.childHard } : {}), ...(o.ours?.ikeRekey ? { ikeRekey: o.ours.ikeRekey } : {}), ...(o.ours?.ikeOver ? { ikeOver: o.ours.ikeOver } : {}),
  });
  writeFileSync(join(dir, 'left.xml'), xml);
  const store = join(dir, 'store');
  const proc = spawn('ip', ['netns', 'exec', 'ssA-left', process.execPath, '--import', 'tsx', join(ROOT, 'cli/main.ts'), 'gateway', '--config', join(dir, 'left.xml'), '--store', store, '--route', '10.22.0.0/24'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { lines.push({ event: 'text', l }); } });
  await until('our gateway to run', () => lines.some((l) => l.event === 'running'), 20_000);
  return {
    proc, lines,
    cli: (args) =>
      new Promise((resolvePromise, reject) => {
        const p = spawn('ip', ['netns', 'exec', 'ssA-left', process.execPath, '--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args, '--store', store, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.once('exit', (code) => (code === 0 ? resolvePromise(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`ipsec-es ${args.join(' ')}: exit ${code}: ${out}`))));
      }),
    facts: (pred = () => true) => lines.filter((l) => l.event === 'ike').map((l) => ({ type: l.type, ...(l.data as object) }) as Record<string, unknown>).filter(pred),
    stop: async () => {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

const exchanges = (ours: Ours) => ours.facts((f) => f.type === 'IkeExchangeCompleted').map((f) => `${f.exchange}:${f.requestBy}:${f.outcome}`);

describe.skipIf(skip !== undefined)('interop with strongSwan', () => {
  let release: () => void = () => {};
  let ours: Ours | undefined;
  beforeAll(async () => { release = await lockE2e(); });
  afterAll(async () => {
    await ours?.stop();
    try { sh(HARNESS, ['clean'], { env: process.env }); } finally { release(); }
  }, 30_000);

  it('ours initiates on the first packet (AES-CBC/SHA-256/MODP-2048 IKE, AES-GCM ESP); ping and TCP; strongSwan rekeys CHILD and IKE SA under ping; strongSwan deletes', async () => {
    ours = await start({ ike: 'aes256-sha256-modp2048', esp: 'aes128gcm16' });
    await ping(1); // raises ACQUIRE; the packet waits in the hold queue
    await until('the CHILD SA', () => /INSTALLED/.test(swanctl('--list-sas')));
    expect(received(await ping(5))).toBe(5);
    const sas = swanctl('--list-sas');
    expect(sas).toMatch(/ESTABLISHED/);
    expect(sas).toMatch(/AES_CBC-256\/HMAC_SHA2_256_128\/PRF_HMAC_SHA2_256\/MODP_2048/);
    expect(sas).toMatch(/TUNNEL-in-UDP, ESP:AES_GCM_16-128/);
    await until('our facts', () => exchanges(ours!).length >= 2);
    expect(exchanges(ours)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:ok']);
    // TCP through the tunnel.
    const server = spawn('ip', ['netns', 'exec', 'ssA-rhost', 'iperf3', '-s', '-1'], { stdio: 'ignore' });
    await listening({ exec: (ns, cmd) => sh('ip', ['netns', 'exec', ns, ...cmd]) }, 'ssA-rhost', 5201);
    const iperf = JSON.parse(sh('ip', ['netns', 'exec', 'ssA-lhost', 'iperf3', '-c', '10.22.0.2', '-t', '2', '-J'], { timeout: 20_000 })) as { end: { sum_received: { bytes: number } } };
    server.kill();
    expect(iperf.end.sum_received.bytes).toBeGreaterThan(100_000);
    // strongSwan rekeys the CHILD SA, then the IKE SA, while a ping runs: zero loss.
    const pinging = spawn('ip', ['netns', 'exec', 'ssA-lhost', 'ping', '-c', '30', '-i', '0.2', '10.22.0.2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let pingOut = '';
    pinging.stdout!.on('data', (d: Buffer) => { pingOut += d.toString(); });
    await new Promise((r) => setTimeout(r, 1000));
    expect(swanctl('--rekey', '--child', 'net')).toMatch(/rekey completed successfully/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(swanctl('--rekey', '--ike', 'gw')).toMatch(/rekey completed successfully/);
    await new Promise((r) => pinging.once('exit', r));
    expect(received(pingOut)).toBe(30);
    await until('the old SAs to go', () => exchanges(ours!).includes('INFORMATIONAL:peer:ok') && ours!.facts((f) => f.type === 'ChildSaMoved').length === 2);
    const details = ours.facts((f) => f.type === 'IkeExchangeCompleted').map((f) => String(f.detail));
    expect(details.some((d) => d.startsWith('rekeyed CHILD SA'))).toBe(true);
    expect(details.some((d) => d.startsWith('rekeyed IKE SA'))).toBe(true);
    expect(received(await ping(3))).toBe(3);
    // strongSwan deletes the CHILD SA: ours deletes its pair (reason peer); then the IKE SA.
    swanctl('--terminate', '--child', 'net');
    await until('our pair deleted', () => ours!.facts((f) => String(f.detail ?? '').startsWith('peer deleted CHILD SA')).length === 2);
    swanctl('--terminate', '--ike', 'gw');
    await until('our IKE SA deleted', () => ours!.facts((f) => f.detail === 'peer deleted the IKE SA').length >= 1);
  }, 120_000);

  it('ours responds: strongSwan initiates (port 500, then 4500) with curve25519 and AES-CBC+HMAC-SHA-256 ESP; ours rekeys CHILD and IKE SA by lifetime; ours deletes', async () => {
    await ours?.stop();
    ours = await start({ ike: 'aes128gcm16-prfsha256-curve25519', esp: 'aes256-sha256', ours: { ike: ['aes128gcm16-prfsha256-curve25519'], esp: ['aes256-sha256'], childSoft: 6, childHard: 30, ikeRekey: 10, ikeOver: 60 } });
    expect(swanctl('--initiate', '--child', 'net')).toMatch(/initiate completed successfully/);
    const sas = swanctl('--list-sas');
    expect(sas).toMatch(/AES_GCM_16-128\/PRF_HMAC_SHA2_256\/CURVE_25519/);
    expect(sas).toMatch(/ESP:AES_CBC-256\/HMAC_SHA2_256_128/);
    await until('our facts', () => exchanges(ours!).length >= 2);
    expect(exchanges(ours)).toEqual(['IKE_SA_INIT:peer:ok', 'IKE_AUTH:peer:ok']);
    // Our lifetimes: the CHILD SA rekeys at ~6 s, the IKE SA at ~10 s; a ping runs through both.
    const out = await ping(70, '0.2');
    expect(received(out)).toBe(70);
    const mine = () => ours!.facts((f) => f.type === 'IkeExchangeCompleted' && f.requestBy === 'us' && f.outcome === 'ok').map((f) => String(f.detail));
    await until('our rekeys in the log', () => mine().some((d) => d.startsWith('rekeyed CHILD SA')) && mine().some((d) => d.startsWith('rekeyed IKE SA')), 5_000);
    expect(swanctl('--list-sas')).toMatch(/INSTALLED/);
    // Ours deletes the CHILD SA (ipsec-es terminate): strongSwan removes it.
    const listed = await ours.cli(['list-sas', '--live']) as { sas: Array<{ id: string; status: string; direction: string }>; ikeSas: Array<{ ikeSaId: string }> };
    const outbound = listed.sas.find((x) => x.status === 'mature' && x.direction === 'outbound')!;
    await ours.cli(['terminate', '--sa', outbound.id]);
    await until('strongSwan to drop the CHILD SA', () => !/INSTALLED/.test(swanctl('--list-sas')));
    expect(listed.ikeSas).toHaveLength(1);
    await ours.cli(['terminate', '--ike', listed.ikeSas[0]!.ikeSaId]);
    await until('strongSwan to drop the IKE SA', () => !/ESTABLISHED/.test(swanctl('--list-sas')));
  }, 120_000);

  it('DH group 19 (P-256) with AES-GCM ESP, ours initiating; a wrong PSK is AUTHENTICATION_FAILED', async () => {
    await ours?.stop();
    ours = await start({ ike: 'aes256-sha256-ecp256', esp: 'aes256gcm16' });
    await ping(1);
    await until('the CHILD SA', () => /INSTALLED/.test(swanctl('--list-sas')));
    expect(swanctl('--list-sas')).toMatch(/ECP_256/);
    expect(received(await ping(3))).toBe(3);
    await ours.stop();
    // Our file with another PSK: strongSwan refuses our AUTH; the fact says so, no SA exists.
    ours = await start({ ike: 'aes256-sha256-ecp256', esp: 'aes256gcm16', ourPsk: 'not-the-peer-psk-0123456789' });
    await ping(1);
    await until('the refusal', () => exchanges(ours!).length >= 2);
    expect(exchanges(ours)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:AUTHENTICATION_FAILED']);
    expect(ours.facts((f) => f.type === 'IkeSaDeleted').map((f) => f.reason)).toEqual(['AUTHENTICATION_FAILED']);
    expect(swanctl('--list-sas')).not.toMatch(/ESTABLISHED/);
  }, 120_000);
});
