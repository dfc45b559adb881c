/**
 * `ipsec-es gateway --snmp` as a process (issue 8): two gateways in their namespaces, A serving
 * its SPD over SNMPv2c (the community from IPSEC_ES_SNMP_COMMUNITY). The real Net-SNMP tools walk
 * the policies A loaded from its file, then a manager adds a DROP rule (RFC 4807 with an RFC 3289
 * filter, createAndWait → columns → active): the flow it names stops crossing the tunnel while the
 * rest still does, `ipsec-es list-pols` shows the rule, and the policy fact names the manager.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { e2eLab, e2eSkipReason, newKeys, startGateway } from './gateways.js';
import { siteConfig } from './siteConfig.js';
import { ADDR } from './topology.js';

const why = e2eSkipReason(['snmpwalk', 'snmpset']);
const COMMUNITY = 'e2e-rw-community';
const SPD = '1.3.6.1.2.1.153.1';
const MF = '1.3.6.1.2.1.97.1.2.6.1';
const idx = (s: string) => `${Buffer.byteLength(s)}.${[...Buffer.from(s)].join('.')}`;
const rule = (col: number, name: string) => `${SPD}.4.1.${col}.${idx(name)}`;
const group = (col: number, prio: number) => `${SPD}.3.1.${col}.${idx('ipsec-es-egress')}.${prio}`;
const mf = (col: number, id: number) => `${MF}.${col}.${id}`;

/** Runs a command in a namespace; its exit code and output, never throwing. */
const inNs = (ns: string, cmd: string[]): Promise<{ code: number; out: string }> =>
  new Promise((resolve) => execFile('ip', ['netns', 'exec', ns, ...cmd], { timeout: 20_000 }, (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })));

describe.skipIf(why !== undefined)(`ipsec-es gateway --snmp${why ? ` (skipped: ${why})` : ''}`, () => {
  const lab = e2eLab();

  it('snmpwalk lists the file\'s policies; a rule made with snmpset takes effect in the data path and is a fact naming the manager', async () => {
    const t = await lab.topology();
    const keys = newKeys();
    // The file's rules at priority 100, so a manager's rule at 10 comes first.
    const xml = (side: 'a' | 'b') => {
      const [spd, rest] = siteConfig(side, keys).split('</spd>') as [string, string];
      return `${spd.replaceAll('<reqid>1</reqid>', '<reqid>1</reqid><priority>100</priority>')}</spd>${rest}`;
    };
    process.env.IPSEC_ES_SNMP_COMMUNITY = COMMUNITY;
    let a;
    try {
      a = await startGateway(t, 'a', keys, undefined, undefined, { xml: xml('a'), args: ['--snmp', '0'] });
    } finally {
      delete process.env.IPSEC_ES_SNMP_COMMUNITY;
    }
    const b = await startGateway(t, 'b', keys, undefined, undefined, { xml: xml('b') });
    lab.running.push(a, b);
    const port = (a.lines.find((l) => l.event === 'running') as { snmp: { port: number } }).snmp.port;
    const v2 = ['-v2c', '-c', COMMUNITY, '-On', '-r', '1', '-t', '3', `127.0.0.1:${port}`];
    const snmp = (tool: string, ...args: string[]) => inNs(t.ns.gwA, [tool, ...v2, ...args]);

    const walked = await snmp('snmpwalk', `${SPD}.3.1.5`);
    expect(walked.code, walked.out).toBe(0);
    expect([...walked.out.matchAll(/STRING: "([^"]+)"/g)].map((m) => m[1]).sort()).toEqual(['lan-in', 'lan-out', 'wan-in', 'wan-out']);

    // Both hosts reach each other through the tunnel.
    expect((await inNs(t.ns.hostA, ['ping', '-c', '2', '-i', '0.2', '-W', '2', ADDR.hostB])).out).toMatch(/ 0% packet loss/);

    // A manager drops ICMP from LAN A to host B: filter (RFC 3289), rule, group row; then active.
    const next = /Gauge32: (\d+)/.exec((await snmp('snmpget', '1.3.6.1.2.1.97.1.2.5.0')).out);
    expect(next, 'diffServMultiFieldClfrNextFree').not.toBeNull();
    const id = Number(next![1]);
    const set = async (...vbs: string[]) => {
      const r = await snmp('snmpset', ...vbs);
      expect(r.code, r.out).toBe(0);
    };
    await set(mf(15, id), 'i', '5');
    await set(mf(2, id), 'i', '1', mf(3, id), 'x', '0A02000A', mf(4, id), 'u', '32', mf(5, id), 'x', '0A010000', mf(6, id), 'u', '24', mf(9, id), 'u', '1');
    await set(mf(15, id), 'i', '1');
    await set(rule(9, 'no-icmp-b'), 'i', '5');
    await set(rule(3, 'no-icmp-b'), 'o', `${MF}.1.${id}`, rule(5, 'no-icmp-b'), 'o', `${SPD}.13.1.0`);
    await set(rule(9, 'no-icmp-b'), 'i', '1');
    await set(group(8, 10), 'i', '5', group(5, 10), 's', 'no-icmp-b');
    await set(group(8, 10), 'i', '1');

    // The data path obeys at once: ICMP from LAN A to host B is discarded at A, counted.
    expect((await inNs(t.ns.hostA, ['ping', '-c', '2', '-i', '0.2', '-W', '1', ADDR.hostB])).out).toMatch(/ 100% packet loss/);
    const status = await a.status();
    expect((status.drops as Record<string, number>).discarded).toBeGreaterThanOrEqual(2);
    const pols = (await a.control({ cmd: 'list-pols' })) as { policies: Array<{ id: string; action: string }> };
    expect(pols.policies.find((p) => p.id === 'no-icmp-b')?.action).toBe('discard');
    const facts = (await a.control({ cmd: 'facts', stream: 'policy-no-icmp-b' })) as { facts: Array<{ type: string; data: { source?: unknown } }> };
    expect(facts.facts.map((f) => [f.type, f.data.source])).toEqual([['PolicyAdded', { via: 'snmp', who: 'community@127.0.0.1' }]]);

    // The manager takes it out (destroy): the tunnel carries ICMP again.
    await set(group(8, 10), 'i', '6');
    expect((await inNs(t.ns.hostA, ['ping', '-c', '2', '-i', '0.2', '-W', '2', ADDR.hostB])).out).toMatch(/ 0% packet loss/);
  }, 120_000);
});
