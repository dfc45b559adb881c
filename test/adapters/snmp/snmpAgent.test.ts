/**
 * The SNMP agent against the real Net-SNMP tools (Debian package `snmp`): walk what the XML file
 * loaded, create a rule with RowStatus and see a packet take it, take it out again, bad Sets,
 * SNMPv3 authPriv, two managers at once, and garbage on the socket.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { factLog, readLog } from '../../../adapters/eventStore/facts.js';
import { memoryEventStore } from '../../../adapters/eventStore/memory/memoryEventStore.js';
import { memoryKeyStore } from '../../../adapters/keyStore/memoryKeyStore.js';
import { loadPolicyFile } from '../../../adapters/policyFile/loader.js';
import { seededRandom } from '../../../adapters/random/random.js';
import { startSnmpAgent, type SnmpAgent } from '../../../adapters/snmp/snmpAgent.js';
import { Spd } from '../../../engine/spd/spd.js';
import { Gateway } from '../../../machines/gateway/gateway.js';
import { PolicyService } from '../../../machines/policy/policyService.js';
import { processOutbound } from '../../../streams/pipelines.js';
import { udp } from '../../support/twoGateways.js';

const haveTools = await new Promise<boolean>((r) => execFile('snmpset', ['--version'], (e) => r(!e)));

interface Run { code: number; out: string }
const run = (cmd: string, args: string[]): Promise<Run> =>
  new Promise((resolve) => execFile(cmd, args, { timeout: 10_000 }, (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })));

const SPD = '1.3.6.1.2.1.153.1';
const MF = '1.3.6.1.2.1.97.1.2.6.1';
const ES = '1.3.6.1.4.1.32473.4301.1.1.1';
const idx = (s: string) => `${Buffer.byteLength(s)}.${[...Buffer.from(s)].join('.')}`;
const rule = (col: number, name: string) => `${SPD}.4.1.${col}.${idx(name)}`;
const group = (col: number, g: string, prio: number) => `${SPD}.3.1.${col}.${idx(g)}.${prio}`;
const mf = (col: number, id: number) => `${MF}.${col}.${id}`;
const ACCEPT = `${SPD}.13.3.0`;
const DROP = `${SPD}.13.1.0`;

describe.skipIf(!haveTools)('SNMP agent with the Net-SNMP tools (RFC 4807 over SNMPv2c and SNMPv3)', () => {
  let agent: SnmpAgent;
  let gw: Gateway;
  let policies: PolicyService;
  const store = memoryEventStore();
  let target = '';
  const v2 = (community: string) => ['-v2c', '-c', community, '-On', '-r', '0', '-t', '2', target];
  const set = (community: string, ...vbs: string[]) => run('snmpset', [...v2(community), ...vbs]);
  const v3 = (authKey: string) => ['-v3', '-l', 'authPriv', '-u', 'admin', '-a', 'SHA-256', '-A', authKey, '-x', 'AES', '-X', 'priv-secret-2', '-On', '-r', '0', '-t', '2', target];
  /** What the outbound path does with a UDP packet 10.1.0.5:5000 → 10.2.0.7:6000. */
  const outboundFate = () => {
    const discarded = gw.drops.global.discarded ?? 0;
    const noSa = gw.drops.global.noSa ?? 0;
    const out: Uint8Array[] = [];
    processOutbound(gw, udp('10.1.0.5', '10.2.0.7', 1), out, null);
    if (out.length === 1) return 'bypass';
    // PROTECT with no SA yet (no key manager here): the file's lan-a-b:out rule took it.
    return (gw.drops.global.noSa ?? 0) > noSa ? 'protect' : (gw.drops.global.discarded ?? 0) > discarded ? 'discard' : 'other';
  };
  const snapshot = async () => ({ spd: JSON.stringify(gw.spd.list().map((p) => p.id)), log: (await readLog(store)).length });

  beforeAll(async () => {
    const file = await loadPolicyFile('examples/site-to-site.xml');
    const clock = new SimulatedClock();
    clock.set(Date.parse('2026-11-22T00:00:00Z'));
    const random = seededRandom(9);
    const log = factLog(store);
    gw = new Gateway({ name: 'a', deps: { clock, random, log }, keys: memoryKeyStore(), spd: new Spd(file.policies), checkpointEveryMs: 0 });
    policies = new PolicyService({ spd: gw.spd, log, clock, random });
    await policies.load(file.policies, { via: 'file', file: file.path });
    agent = await startSnmpAgent({
      policies, port: 0,
      communities: [{ community: 'public', access: 'readOnly' }, { community: 'rw-secret', access: 'readWrite', name: 'ops' }],
      users: [{ name: 'admin', access: 'readWrite', authProtocol: 'sha256', authKey: 'auth-secret-1', privProtocol: 'aes', privKey: 'priv-secret-2' }],
    });
    target = `127.0.0.1:${agent.port}`;
  });
  afterAll(async () => {
    await agent?.close();
    gw?.stop();
  });

  it('snmpwalk lists the policies loaded from the XML file as RFC 4807 rules in the egress and ingress groups', async () => {
    const walk = await run('snmpwalk', [...v2('public'), `${SPD}.3.1.5`]);
    expect(walk.code).toBe(0);
    const names = [...walk.out.matchAll(/STRING: "([^"]+)"/g)].map((m) => m[1]);
    expect(names.sort()).toEqual(['ike-in', 'ike-out', 'lan-a-b:in', 'lan-a-b:out']);
    expect(walk.out).toContain(`${SPD}.3.1.5.${idx('ipsec-es-egress')}.100 = STRING: "lan-a-b:out"`);
    // The PROTECT rule's action is a row of our enterprise table with the file's suites and tunnel.
    const action = await run('snmpget', [...v2('public'), rule(5, 'lan-a-b:out'), `${ES}.4.${idx('lan-a-b:out')}`, `${ES}.3.${idx('lan-a-b:out')}`]);
    expect(action.out).toContain(`OID: .${ES}.1.${idx('lan-a-b:out')}`);
    expect(action.out).toMatch(/STRING: "aes256gcm16,chacha20poly1305,aes256-sha256"/);
    expect(action.out).toMatch(/INTEGER: 2\s*$/m); // tunnel(2)
    // File rules are readOnly (RFC 2579 StorageType 5): the file owns them.
    expect((await run('snmpget', [...v2('public'), rule(8, 'ike-out')])).out).toMatch(/INTEGER: 5/);
  });

  it('createAndWait → columns → active puts a rule in the SPD (a packet takes it); notInService and destroy take it out; each is a fact with who and address', async () => {
    expect(outboundFate()).toBe('protect'); // the file's lan-a-b:out (priority 100)
    const next = Number(/Gauge32: (\d+)/.exec((await run('snmpget', [...v2('public'), '1.3.6.1.2.1.97.1.2.5.0'])).out)![1]);
    const id = next;
    // The IP header filter (RFC 3289 multi-field classifier): UDP 10.1.0.0/16 → 10.2.0.7 port 6000.
    expect((await set('rw-secret', mf(15, id), 'i', '5')).code).toBe(0);
    expect((await set('rw-secret', mf(2, id), 'i', '1', mf(3, id), 'x', '0A020007', mf(4, id), 'u', '32', mf(5, id), 'x', '0A010000', mf(6, id), 'u', '16', mf(9, id), 'u', '17', mf(10, id), 'u', '6000', mf(11, id), 'u', '6000')).code).toBe(0);
    expect((await set('rw-secret', mf(15, id), 'i', '1')).code).toBe(0);
    // The rule: that filter, accept (BYPASS).
    expect((await set('rw-secret', rule(9, 'web-bypass'), 'i', '5')).code).toBe(0);
    const early = await set('rw-secret', rule(9, 'web-bypass'), 'i', '1');
    expect(early.out).toMatch(/inconsistentValue/); // not ready: no filter, no action yet
    expect((await set('rw-secret', rule(3, 'web-bypass'), 'o', `${MF}.1.${id}`, rule(5, 'web-bypass'), 'o', ACCEPT)).code).toBe(0);
    expect((await set('rw-secret', rule(9, 'web-bypass'), 'i', '1')).code).toBe(0);
    expect(gw.spd.get('web-bypass')).toBeUndefined(); // a rule in no group is not in the SPD
    // Into the egress group before the file's PROTECT rule (priority 100).
    expect((await set('rw-secret', group(8, 'ipsec-es-egress', 5), 'i', '5', group(5, 'ipsec-es-egress', 5), 's', 'web-bypass')).code).toBe(0);
    expect(gw.spd.get('web-bypass')).toBeUndefined();
    expect((await set('rw-secret', group(8, 'ipsec-es-egress', 5), 'i', '1')).code).toBe(0);
    expect(gw.spd.get('web-bypass')).toMatchObject({ priority: 5, direction: 'outbound', action: 'bypass' });
    expect(outboundFate()).toBe('bypass');
    // RFC 4807: a rule stays active while an active group row names it.
    expect((await set('rw-secret', rule(9, 'web-bypass'), 'i', '2')).out).toMatch(/inconsistentValue/);
    // notInService takes it out of the SPD.
    expect((await set('rw-secret', group(8, 'ipsec-es-egress', 5), 'i', '2')).code).toBe(0);
    expect(gw.spd.get('web-bypass')).toBeUndefined();
    expect(outboundFate()).toBe('protect');
    // Back in, then destroyed.
    expect((await set('rw-secret', group(8, 'ipsec-es-egress', 5), 'i', '1')).code).toBe(0);
    expect(outboundFate()).toBe('bypass');
    expect((await set('rw-secret', group(8, 'ipsec-es-egress', 5), 'i', '6')).code).toBe(0);
    expect(gw.spd.get('web-bypass')).toBeUndefined();
    expect(outboundFate()).toBe('protect');
    expect((await run('snmpget', [...v2('public'), group(5, 'ipsec-es-egress', 5)])).out).toMatch(/No Such Instance/);
    const facts = (await readLog(store)).filter((l) => l.streamName === 'policy-web-bypass');
    expect(facts.map((l) => l.fact.type)).toEqual(['PolicyAdded', 'PolicyRemoved', 'PolicyAdded', 'PolicyRemoved']);
    for (const l of facts) expect(l.fact.data).toMatchObject({ source: { via: 'snmp', who: 'ops@127.0.0.1' } });
  });

  it('bad Sets get the RFC 3416 error status and change nothing', async () => {
    const before = await snapshot();
    const cases: Array<[string, string[]]> = [
      ['wrongType', [rule(2, 'ike-out'), 'i', '3']],
      ['wrongValue', [mf(10, 77), 'u', '70000']],
      ['wrongValue', [rule(9, 'x'), 'i', '3']], // notReady is never written (RFC 2579)
      ['inconsistentName', [rule(9, 'no-such-rule'), 'i', '1']],
      ['notWritable', [rule(7, 'ike-out'), 'u', '5']], // LastChanged is read-only
      ['notWritable', [rule(6, 'ike-out'), 'i', '2']], // a file rule (readOnly storage)
      ['notWritable', [`${SPD}.13.1.0`, 'i', '1']],
      ['noCreation', [`${SPD}.9.1.9.${idx('night')}`, 'i', '4']], // time filters have no RFC 4301 meaning
      // One bad varbind fails the whole PDU: the valid row creation before it does not happen.
      ['inconsistentValue', [rule(9, 'half'), 'i', '4', rule(3, 'half'), 'o', `${SPD}.13.1.0`, rule(5, 'half'), 'o', DROP]],
      ['inconsistentName', [rule(9, 'half'), 'i', '4', rule(3, 'half'), 'o', `${MF}.1.999`, rule(5, 'half'), 'o', DROP]],
    ];
    for (const [status, vbs] of cases) {
      const r = await set('rw-secret', ...vbs);
      expect(r.code, r.out).not.toBe(0);
      expect(r.out, vbs.join(' ')).toContain(status);
    }
    // A read-only community: noAccess.
    expect((await set('public', rule(9, 'ro'), 'i', '4')).out).toMatch(/noAccess/);
    // A wrong community: no answer at all (RFC 3584), counted.
    const bad = await run('snmpset', ['-v2c', '-c', 'guess', '-On', '-r', '0', '-t', '0.5', target, rule(9, 'x2'), 'i', '4']);
    expect(bad.out).toMatch(/Timeout/);
    expect(agent.counters.badCommunity).toBeGreaterThan(0);
    // SNMPv3 with the wrong authentication key: a Report usmStatsWrongDigests (RFC 3414 §3.2
    // step 6), which snmpset names; with the right one and a wrong privacy key, a Report
    // usmStatsDecryptionErrors (step 8); to another engine ID, usmStatsUnknownEngineIDs (step 3).
    const digests = agent.counters.wrongDigests;
    const wrongKey = await run('snmpset', [...v3('not-the-key'), rule(9, 'v3bad'), 'i', '4']);
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.out).toMatch(/Authentication failure \(incorrect password, community or key\)/);
    expect(agent.counters.wrongDigests).toBe(digests + 1);
    const wrongPriv = await run('snmpset', [...v3('auth-secret-1').map((a) => (a === 'priv-secret-2' ? 'not-the-priv-key' : a)), rule(9, 'v3bad'), 'i', '4']);
    expect(wrongPriv.out).toMatch(/Decryption error/);
    expect(agent.counters.decryptionErrors).toBe(1);
    const otherEngine = await run('snmpset', ['-e', '0x80001f88800102030405060708', ...v3('auth-secret-1'), rule(9, 'v3bad'), 'i', '4']);
    expect(otherEngine.out).toMatch(/Unknown engine ID/i);
    expect(agent.counters.unknownEngineIDs).toBe(1);
    expect(await snapshot()).toEqual(before);
    expect((await run('snmpget', [...v2('public'), rule(9, 'half')])).out).toMatch(/No Such Instance/);
  });

  it('SNMPv3 authPriv: one createAndGo PDU (filter, action with ESP tunnel parameters, rule, group row) installs a PROTECT policy', async () => {
    const name = 'v3-protect';
    const vbs = [
      `${ES}.20.${idx(name)}`, 'i', '4', `${ES}.3.${idx(name)}`, 'i', '2', `${ES}.4.${idx(name)}`, 's', 'aes128gcm16',
      `${ES}.5.${idx(name)}`, 'i', '1', `${ES}.6.${idx(name)}`, 'x', 'C0000201', `${ES}.7.${idx(name)}`, 'x', 'C6336402', `${ES}.9.${idx(name)}`, 'u', '3600',
      rule(9, name), 'i', '4', rule(3, name), 'o', `${SPD}.7.1.0`, rule(5, name), 'o', `${ES}.1.${idx(name)}`,
      group(8, 'ipsec-es-egress', 7), 'i', '4', group(5, 'ipsec-es-egress', 7), 's', name,
    ];
    const r = await run('snmpset', [...v3('auth-secret-1'), ...vbs]);
    expect(r.code, r.out).toBe(0);
    const p = gw.spd.get(name)!;
    expect(p).toMatchObject({ action: 'protect', priority: 7, protect: { protocol: 'esp', mode: 'tunnel', lifetimes: { hard: { timeMs: 3_600_000 } } } });
    expect([...p.protect!.tunnel!.src]).toEqual([192, 0, 2, 1]);
    const facts = (await readLog(store)).filter((l) => l.streamName === `policy-${name}`);
    expect(facts.map((l) => [l.fact.type, (l.fact.data as { source: unknown }).source])).toEqual([['PolicyAdded', { via: 'snmp', who: 'admin@127.0.0.1' }]]);
  });

  it('two managers create the same rule at once: one wins, the other gets inconsistentValue, the SPD holds exactly the winner', async () => {
    const name = 'race';
    const pdu = (action: string) => [rule(9, name), 'i', '4', rule(3, name), 'o', `${SPD}.7.1.0`, rule(5, name), 'o', action, group(8, 'ipsec-es-ingress', 3), 'i', '4', group(5, 'ipsec-es-ingress', 3), 's', name];
    const logBefore = (await readLog(store)).length;
    const [a, b] = await Promise.all([set('rw-secret', ...pdu(ACCEPT)), run('snmpset', [...v3('auth-secret-1'), ...pdu(DROP)])]);
    expect([a.code, b.code].filter((c) => c === 0)).toHaveLength(1);
    const loser = a.code === 0 ? b : a;
    expect(loser.out).toMatch(/inconsistentValue/);
    const won = a.code === 0 ? 'bypass' : 'discard';
    expect(gw.spd.get(name)).toMatchObject({ action: won, direction: 'inbound' });
    const facts = (await readLog(store)).slice(logBefore);
    expect(facts.map((l) => [l.streamName, l.fact.type])).toEqual([[`policy-${name}`, 'PolicyAdded']]);
    expect((facts[0]!.fact.data as { policy: { action: string } }).policy.action).toBe(won);
  });

  it('garbage and mangled SNMP messages never stop the agent', async () => {
    const sock = createSocket('udp4');
    const valid = Buffer.from('302902010104067075626c6963a01c02047a69ce7d020100020100300e300c06082b060102010101000500', 'hex');
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 3000; i++) {
      let b: Buffer;
      if (i % 3 === 0) b = Buffer.from(Array.from({ length: Math.floor(rnd() * 120) }, () => Math.floor(rnd() * 256)));
      else {
        b = Buffer.from(valid);
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        if (i % 3 === 2) b = b.subarray(0, Math.floor(rnd() * b.length));
      }
      sock.send(b, agent.port, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    const r = await run('snmpget', [...v2('public'), `${SPD}.7.1.0`]);
    expect(r.out).toMatch(/INTEGER: 1/);
    expect(agent.counters.malformed + agent.counters.badCommunity).toBeGreaterThan(0);
  });
});
