/**
 * Two of our gateways keyed by IKEv2 (issue 7), each `ipsec-es gateway` on a real TUN device in
 * its namespace, the policy file's `<conn-entry>` its only key material besides the PSK file:
 *   - on demand: the first packet raises an ACQUIRE, IKE_SA_INIT + IKE_AUTH bring the pair up,
 *     and the held packets are delivered (0 % ping loss);
 *   - A's short lifetimes rekey the CHILD SA and the IKE SA under a running ping: 0 % loss,
 *     make-before-break, the children move to the new IKE SA;
 *   - `ipsec-es terminate` deletes a pair at both ends (RFC 7296 §1.4.1);
 *   - A restarts: its log records the old IKE SA deleted (reason restart), the next packet
 *     negotiates afresh, and B drops its stale IKE SA on our INITIAL_CONTACT (§2.4);
 *   - with sealed keys (--kek) a restart takes the IKE SA back instead: the same SAs carry
 *     traffic at once, and a rekey and a DELETE run under the rehydrated session.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { e2eLab, e2eSkipReason, startGateway, type GatewayProcess } from './gateways.js';
import { ikeSiteXml, pskHex, type IkeSiteOptions } from './ikeSiteConfig.js';
import { ADDR, type Topology } from './topology.js';

const why = e2eSkipReason([]);
const ROOT = new URL('../..', import.meta.url).pathname;

type Line = Record<string, unknown>;
const ikeFacts = (g: GatewayProcess, type?: string) => g.lines.filter((l) => l.event === 'ike' && (type === undefined || l.type === type)) as Array<{ stream: string; type: string; data: Record<string, unknown> }>;
const exchanges = (g: GatewayProcess) => ikeFacts(g, 'IkeExchangeCompleted').map((f) => `${String(f.data.exchange)}:${String(f.data.requestBy)}:${String(f.data.outcome)}`);

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !(await condition()); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** ping in a namespace without blocking this thread (the gateways' output keeps being read). */
function ping(t: Topology, ns: string, to: string, count: number, intervalS = 0.2): Promise<string> {
  const p = t.spawn(ns, ['ping', '-c', String(count), '-i', String(intervalS), '-W', '2', to]);
  let out = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((r) => p.once('exit', () => r(out)));
}

/** One `ipsec-es` CLI verb against a gateway's store directory; its JSON answer. */
function cli(ns: string, args: string[]): Promise<{ code: number | null; json: Line; text: string }> {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout.on('data', (c: Buffer) => (text += c.toString()));
  p.stderr.on('data', (c: Buffer) => (text += c.toString()));
  return new Promise((r) => p.once('exit', (code) => { let json: Line = {}; try { json = JSON.parse(text) as Line; } catch { /* an error text */ } r({ code, json, text }); }));
}

describe.skipIf(why !== undefined)(`two of our gateways keyed by IKEv2${why ? ` (skipped: ${why})` : ''}`, () => {
  const lab = e2eLab();
  const running = lab.running;
  // One topology for the file (it holds the machine-wide e2e lock until the file ends).
  let topology: Topology | undefined;
  const topo = async () => (topology ??= await lab.topology());

  it('on demand, rekeys by lifetime under a ping with 0 % loss, terminate deletes at both ends, a restart negotiates afresh', async () => {
    const t = await topo();
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-ike-'));
    writeFileSync(join(dir, 'psk'), pskHex('e2e shared secret between a and b'));
    const common = { pskRef: `file:${join(dir, 'psk')}`, ikeProposals: ['aes256gcm16-prfsha256-x25519'], espSuites: ['aes128gcm16'] };
    const sideA: IkeSiteOptions = { ...common, name: 'a-b', local: { address: ADDR.gwAWan, id: 'a.ike.test', net: ADDR.lanA }, remote: { address: ADDR.gwBWan, id: 'b.ike.test', net: ADDR.lanB }, childSoft: 4, childHard: 9, ikeRekey: 7, ikeOver: 6 };
    // B's lifetimes are long: A rekeys, so the two never start the same rekey at once.
    const sideB: IkeSiteOptions = { ...common, name: 'b-a', local: { address: ADDR.gwBWan, id: 'b.ike.test', net: ADDR.lanB }, remote: { address: ADDR.gwAWan, id: 'a.ike.test', net: ADDR.lanA }, childSoft: 600, childHard: 700, ikeRekey: 600, ikeOver: 100 };
    const start = (side: 'a' | 'b') => startGateway(t, side, [], dir, join(dir, `store-${side}`), { xml: ikeSiteXml(side === 'a' ? sideA : sideB) });
    const [a, b] = await Promise.all([start('a'), start('b')]);
    running.push(a, b);
    expect(a.lines.find((l) => l.event === 'started')).toMatchObject({ restored: 0, installed: 0, ike: ['a-b'] });

    // On demand: nothing is keyed until host A's first packet.
    expect(((await a.status()).sas as unknown[]).length).toBe(0);
    const first = await ping(t, t.ns.hostA, ADDR.hostB, 5);
    if (!/ 0% packet loss/.test(first)) console.log(JSON.stringify({ a: a.lines, b: b.lines, sa: await a.status(), sb: await b.status() }, null, 1));
    expect(first).toMatch(/ 0% packet loss/);
    await until('both exchanges in A\'s log', () => exchanges(a).length >= 2);
    expect(exchanges(a).slice(0, 2)).toEqual(['IKE_SA_INIT:us:ok', 'IKE_AUTH:us:ok']);
    expect(exchanges(b).slice(0, 2)).toEqual(['IKE_SA_INIT:peer:ok', 'IKE_AUTH:peer:ok']);
    expect(ikeFacts(a, 'IkeSaEstablished')[0]!.data).toMatchObject({ role: 'initiator' });
    const firstIke = ikeFacts(a, 'IkeSaEstablished')[0]!.stream;

    // Lifetimes: A's CHILD SA is rekeyed at ~4 s and its IKE SA at ~7 s while a ping runs.
    const t0 = Date.now();
    const during = await ping(t, t.ns.hostA, ADDR.hostB, 55);
    const statusA = await a.status();
    if (!/ 0% packet loss/.test(during)) {
      const sb = await b.status();
      console.log(`ping started ${new Date(t0).toISOString()}\n${during}\nA drops ${JSON.stringify(statusA.drops)} wire ${JSON.stringify(statusA.wire)}\nB drops ${JSON.stringify(sb.drops)} wire ${JSON.stringify(sb.wire)}`);
      for (const [n, g] of [['A', a], ['B', b]] as const) for (const l of g.lines) if (l.event === 'ike') console.log(n, JSON.stringify(l));
    }
    expect(during).toMatch(/ 0% packet loss/);
    const liveA = (statusA.sas as Array<{ id: string; status: string; direction: string }>).filter((s) => s.status === 'mature');
    expect(liveA.map((s) => s.direction).sort()).toEqual(['inbound', 'outbound']);
    expect(exchanges(a).filter((e) => e.startsWith('CREATE_CHILD_SA:us:ok')).length).toBeGreaterThanOrEqual(2); // at least one child rekey and one IKE rekey
    const ikeSas = (statusA.ike as { sas: Array<{ ikeSaId: string; established: boolean }> }).sas;
    expect(ikeSas).toHaveLength(1);
    expect(`ike-${ikeSas[0]!.ikeSaId}`).not.toBe(firstIke); // the IKE SA was rekeyed
    expect(ikeFacts(a, 'IkeSaDeleted').map((f) => f.data.reason)).toContain('rekeyed');
    const droppedA = (statusA.drops ?? {}) as Record<string, number>;
    expect(droppedA.replay ?? 0).toBe(0);

    // terminate the outbound SA at A: the pair goes at both ends (B's SAs carry the same SPIs).
    // A's lifetimes keep rekeying meanwhile, so other generations may be alive: only this pair counts.
    // Right after a rekey, so the pair chosen is not rekeyed away under the command (soft: 4 s).
    const rekeys = exchanges(a).length;
    await until('A\'s next exchange', () => exchanges(a).length > rekeys, 15_000);
    await until('a mature pair at A', async () => ((await a.status()).sas as Array<{ status: string; direction: string }>).filter((s) => s.status === 'mature').length === 2, 5_000);
    const outA = ((await a.status()).sas as Array<{ id: string; status: string; direction: string }>).find((s) => s.status === 'mature' && s.direction === 'outbound')!.id;
    const term = await cli(t.ns.gwA, ['terminate', '--sa', outA, '--store', a.store]);
    expect(term.code, term.text).toBe(0);
    const spis = new Set(((await a.status()).sas as Array<{ id: string; spi: number }>).filter((s) => (term.json.deleted as string[]).includes(s.id)).map((s) => s.spi));
    expect(spis.size, JSON.stringify({ term: term.json, sas: (await a.status()).sas })).toBe(2);
    const pairAtB = async () => ((await b.status()).sas as Array<{ spi: number; status: string }>).filter((s) => spis.has(s.spi));
    const linesBefore = { a: a.lines.length, b: b.lines.length };
    // B has the pair, or only its inbound SA when A terminated before sending on the new pair (a
    // rekey responder installs its outbound SA once the initiator uses the pair, RFC 7296 §2.8).
    await until('B to delete its pair too', async () => (await pairAtB()).length >= 1 && (await pairAtB()).every((s) => s.status === 'dead'), 10_000).catch(async (e: unknown) => {
      console.log(JSON.stringify({ term: term.json, spis: [...spis], atB: await pairAtB(), atA: ((await a.status()).sas as Array<{ spi: number }>).filter((x) => spis.has(x.spi)) }));
      for (const [n, g] of [['A', a], ['B', b]] as const) for (const l of g.lines.slice(linesBefore[n === 'A' ? 'a' : 'b'] - 30)) if (l.event === 'ike') console.log(n, JSON.stringify(l));
      throw e;
    });

    // initiate through the CLI brings a new pair up under the live IKE SA.
    const created = exchanges(a).filter((e) => e === 'CREATE_CHILD_SA:us:ok').length;
    const init = await cli(t.ns.gwA, ['initiate', '--policy', 'net:out', '--store', a.store]);
    if (init.code !== 0) {
      const pols = await cli(t.ns.gwA, ['list-pols', '--store', a.store]);
      throw new Error(`initiate failed: ${init.text}; policies: ${pols.text}`);
    }
    expect(init.json).toMatchObject({ connection: 'a-b' });
    expect(exchanges(a).filter((e) => e === 'CREATE_CHILD_SA:us:ok').length).toBeGreaterThan(created);
    expect(await ping(t, t.ns.hostB, ADDR.hostA, 3)).toMatch(/ 0% packet loss/);

    // A restarts: its IKE SA is recorded deleted (restart); the next packet negotiates afresh and
    // B drops the stale IKE SA on INITIAL_CONTACT.
    await a.stop();
    running.splice(running.indexOf(a), 1);
    const again = await startGateway(t, 'a', [], dir, a.store, { xml: ikeSiteXml(sideA) });
    running.push(again);
    const started = again.lines.find((l) => l.event === 'started') as { ended?: { ikeSas: string[] } };
    expect(started.ended?.ikeSas).toHaveLength(1);
    expect(await ping(t, t.ns.hostA, ADDR.hostB, 5)).toMatch(/ 0% packet loss/);
    await until('B to drop its stale IKE SA', () => ikeFacts(b, 'IkeSaDeleted').some((f) => f.data.reason === 'INITIAL_CONTACT'), 10_000);
    const ikeB = ((await b.status()).ike as { sas: unknown[] }).sas;
    expect(ikeB).toHaveLength(1);
  }, 180_000);

  it('with sealed keys (--kek) a restart takes the IKE SA back: traffic flows at once, and it rekeys and deletes under the same IKE SA', async () => {
    const t = await topo();
    await Promise.allSettled(running.splice(0).map((g) => g.stop()));
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-ike-kek-'));
    writeFileSync(join(dir, 'psk'), pskHex('e2e shared secret, kek run'));
    writeFileSync(join(dir, 'kek'), randomBytes(32).toString('hex'));
    const common = { pskRef: `file:${join(dir, 'psk')}`, ikeProposals: ['aes128-sha256-ecp256'], espSuites: ['aes256gcm16'], childSoft: 600, childHard: 700, ikeRekey: 600, ikeOver: 100 };
    const sideA: IkeSiteOptions = { ...common, name: 'a-b', local: { address: ADDR.gwAWan, id: 'a.ike.test', net: ADDR.lanA }, remote: { address: ADDR.gwBWan, id: 'b.ike.test', net: ADDR.lanB } };
    const sideB: IkeSiteOptions = { ...common, name: 'b-a', local: { address: ADDR.gwBWan, id: 'b.ike.test', net: ADDR.lanB }, remote: { address: ADDR.gwAWan, id: 'a.ike.test', net: ADDR.lanA } };
    const kek = ['--kek', `file:${join(dir, 'kek')}`, '--natt-keepalive', '1'];
    const start = (side: 'a' | 'b') => startGateway(t, side, [], dir, join(dir, `store-${side}`), { xml: ikeSiteXml(side === 'a' ? sideA : sideB), args: kek });
    const [a, b] = await Promise.all([start('a'), start('b')]);
    running.push(a, b);
    expect(await ping(t, t.ns.hostA, ADDR.hostB, 3)).toMatch(/ 0% packet loss/);
    await until('the IKE SA', () => exchanges(a).length >= 2);
    const ikeId = ikeFacts(a, 'IkeSaEstablished')[0]!.stream.slice(4);
    // NAT-keepalives (RFC 3948 §4, every second here): on the wire, and taken as such by the other side.
    await until('keepalives both ways', async () => ((await b.status()).wire as { keepalivesIn: number }).keepalivesIn >= 2 && ((await a.status()).wire as { keepalivesIn: number }).keepalivesIn >= 2, 10_000);

    await a.stop();
    running.splice(running.indexOf(a), 1);
    const again = await startGateway(t, 'a', [], dir, a.store, { xml: ikeSiteXml(sideA), args: kek });
    running.push(again);
    expect(again.lines.find((l) => l.event === 'started')).toMatchObject({ restored: 2, ikeRestored: [ikeId] });
    // The same SAs carry traffic at once; no new IKE_SA_INIT.
    expect(await ping(t, t.ns.hostA, ADDR.hostB, 3)).toMatch(/ 0% packet loss/);
    expect(ikeFacts(again, 'IkeSaInitiated')).toHaveLength(0);
    // The rehydrated session speaks with the right keys and Message IDs: a CHILD rekey, then DELETE.
    const listed = (await cli(t.ns.gwA, ['list-sas', '--live', '--store', again.store])).json as { sas: Array<{ id: string; direction: string; status: string }>; ikeSas: Array<{ ikeSaId: string }> };
    expect(listed.ikeSas.map((x) => x.ikeSaId)).toEqual([ikeId]);
    const out = listed.sas.find((x) => x.direction === 'outbound' && x.status === 'mature')!.id;
    const rekeyed = await cli(t.ns.gwA, ['rekey', '--sa', out, '--store', again.store]);
    expect(rekeyed.code, rekeyed.text).toBe(0);
    expect(exchanges(again)).toEqual(['CREATE_CHILD_SA:us:ok']);
    await until('B to answer the rekey', () => exchanges(b).includes('CREATE_CHILD_SA:peer:ok'));
    expect(await ping(t, t.ns.hostB, ADDR.hostA, 3)).toMatch(/ 0% packet loss/);
    const ended = await cli(t.ns.gwA, ['terminate', '--ike', ikeId, '--store', again.store]);
    expect(ended.code, ended.text).toBe(0);
    await until('B to delete its IKE SA', () => ikeFacts(b, 'IkeSaDeleted').length >= 1);
    expect(((await b.status()).ike as { sas: unknown[] }).sas).toHaveLength(0);
  }, 180_000);
});
