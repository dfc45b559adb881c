/**
 * `ipsec-es gateway --snmp`: the flags and credentials (snmpOptionsFrom), and end to end a gateway
 * built as runGateway builds it (policy file, embedded file log, static SAs, the data path on the
 * memoryTun / memoryBindPair twins) with the policy service and the agent attached through
 * cli/snmpOption.ts, driven by the real Net-SNMP tools: snmpwalk lists the file's policies, an
 * snmpset createAndWait → columns → active rule drops a packet the file's rule would have sealed,
 * the fact is in the log, and reloads and a restart keep the ownership rule.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromEventPattern, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { factLog, readLog } from '../../adapters/eventStore/facts.js';
import { fileLogEventStore } from '../../adapters/eventStore/fileLog/fileLogEventStore.js';
import { systemClock } from '../../adapters/clock/systemClock.js';
import { memoryKeyStore } from '../../adapters/keyStore/memoryKeyStore.js';
import { loadPolicyFile } from '../../adapters/policyFile/loader.js';
import { cryptoRandom } from '../../adapters/random/random.js';
import { memoryTun } from '../../adapters/tun/memoryTun.js';
import { memoryBindPair } from '../../adapters/udp/memoryBind.js';
import type { Datagram } from '../../adapters/udp/types.js';
import { udpWire } from '../../adapters/udp/wire.js';
import { selectorFields } from '../../engine/spd/selectorFields.js';
import { Spd } from '../../engine/spd/spd.js';
import { Gateway } from '../../machines/gateway/gateway.js';
import { inbound, outbound } from '../../streams/pipelines.js';
import { CliError } from '../../cli/commands/command.js';
import { attachPolicies, snmpOptionsFrom, startSnmp, type SnmpOptions } from '../../cli/snmpOption.js';
import { staticSaInstallSpecs } from '../../cli/staticSas.js';
import { siteConfig } from '../e2e/siteConfig.js';
import { udp } from '../support/twoGateways.js';

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(2);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('snmpOptionsFrom: --snmp <port>, --snmp-address <addr> and the credential variables', () => {
  const v3 = { IPSEC_ES_SNMP_USER: 'nms', IPSEC_ES_SNMP_AUTH: 'auth-pass-1', IPSEC_ES_SNMP_PRIV: 'priv-pass-2' };

  it('off without --snmp, whatever the environment says', () => {
    expect(snmpOptionsFrom({}, { IPSEC_ES_SNMP_COMMUNITY: 'x-secret' })).toBeUndefined();
  });

  it('a community: SNMPv2c read-write on 127.0.0.1, recorded as "community" (the string is a password)', () => {
    expect(snmpOptionsFrom({ snmp: '1161' }, { IPSEC_ES_SNMP_COMMUNITY: 'ops-secret' })).toEqual({
      port: 1161, address: '127.0.0.1', communities: [{ community: 'ops-secret', access: 'readWrite', name: 'community' }], users: [],
    });
  });

  it('an SNMPv3 user with both keys: authPriv with SHA-256 and AES-128; both credentials at once; IPv6 and port 0', () => {
    expect(snmpOptionsFrom({ snmp: '0', 'snmp-address': '::1' }, { ...v3, IPSEC_ES_SNMP_COMMUNITY: 'c-secret' })).toEqual({
      port: 0, address: '::1',
      communities: [{ community: 'c-secret', access: 'readWrite', name: 'community' }],
      users: [{ name: 'nms', access: 'readWrite', authProtocol: 'sha256', authKey: 'auth-pass-1', privProtocol: 'aes', privKey: 'priv-pass-2' }],
    });
  });

  it('one clear line for each mistake', () => {
    expect(usage(() => snmpOptionsFrom({ snmp: '1161' }, {}))).toMatch(/--snmp needs a credential: set IPSEC_ES_SNMP_COMMUNITY .*IPSEC_ES_SNMP_USER/);
    expect(usage(() => snmpOptionsFrom({ snmp: '1161' }, { IPSEC_ES_SNMP_USER: 'nms', IPSEC_ES_SNMP_AUTH: 'auth-pass-1' }))).toBe('SNMPv3 user nms needs both IPSEC_ES_SNMP_AUTH and IPSEC_ES_SNMP_PRIV (authPriv: SHA-256 authentication, AES-128 privacy)');
    expect(usage(() => snmpOptionsFrom({ snmp: '1161' }, { ...v3, IPSEC_ES_SNMP_PRIV: 'short' }))).toMatch(/IPSEC_ES_SNMP_PRIV must be at least 8 characters/);
    expect(usage(() => snmpOptionsFrom({ snmp: '1161' }, { IPSEC_ES_SNMP_AUTH: 'auth-pass-1' }))).toMatch(/need IPSEC_ES_SNMP_USER/);
    expect(usage(() => snmpOptionsFrom({ snmp: '1161' }, { IPSEC_ES_SNMP_COMMUNITY: '' }))).toMatch(/IPSEC_ES_SNMP_COMMUNITY is empty/);
    expect(usage(() => snmpOptionsFrom({ snmp: '70000' }, v3))).toBe('--snmp must be a UDP port in 0..65535 (0: any free port), got 70000');
    expect(usage(() => snmpOptionsFrom({ snmp: 'x' }, v3))).toMatch(/--snmp must be a UDP port/);
    expect(usage(() => snmpOptionsFrom({ snmp: '1161', 'snmp-address': 'localhost' }, v3))).toBe('--snmp-address must be an IPv4 or IPv6 address, got localhost');
    expect(usage(() => snmpOptionsFrom({ 'snmp-address': '127.0.0.1' }, v3))).toBe('--snmp-address needs --snmp <port>');
  });
});

const haveTools = await new Promise<boolean>((r) => execFile('snmpset', ['--version'], (e) => r(!e)));
const run = (cmd: string, args: string[]): Promise<{ code: number; out: string }> =>
  new Promise((resolve) => execFile(cmd, args, { timeout: 10_000 }, (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })));

const SPD = '1.3.6.1.2.1.153.1';
const MF = '1.3.6.1.2.1.97.1.2.6.1';
const DROP = `${SPD}.13.1.0`;
const idx = (s: string) => `${Buffer.byteLength(s)}.${[...Buffer.from(s)].join('.')}`;
const rule = (col: number, name: string) => `${SPD}.4.1.${col}.${idx(name)}`;
const group = (col: number, prio: number) => `${SPD}.3.1.${col}.${idx('ipsec-es-egress')}.${prio}`;
const mf = (col: number, id: number) => `${MF}.${col}.${id}`;

const KEYS = { ab: { spi: 0x1001, key: '000102030405060708090a0b0c0d0e0f10111213' }, ba: { spi: 0x2001, key: '1f1e1d1c1b1a191817161514131211100f0e0d0c' } };
/** Gateway A's file: LAN 10.1.0.0/24 ↔ 10.2.0.0/24 sealed (priority 100), the WAN bypassed. */
function policyFile(o: { dropWanIn?: boolean; extra?: string } = {}): string {
  const [spd, rest] = siteConfig('a', KEYS).split('</spd>') as [string, string];
  let out = spd.replaceAll('<reqid>1</reqid>', '<reqid>1</reqid><priority>100</priority>');
  if (o.dropWanIn) out = out.replace(/<spd-entry>\s*<name>wan-in<\/name>[\s\S]*?<\/spd-entry>/, '');
  return `${out}${o.extra ?? ''}</spd>${rest}`;
}
/** The file naming `block-6000` itself: a BYPASS for the same flow. */
const FILE_BLOCK = `
      <spd-entry>
        <name>block-6000</name>
        <direction>outbound</direction>
        <priority>10</priority>
        <ipsec-policy-config>
          <traffic-selector><local-prefix>10.1.0.0/16</local-prefix><remote-prefix>10.2.0.7/32</remote-prefix><inner-protocol>udp</inner-protocol><remote-ports><start>6000</start><end>6000</end></remote-ports></traffic-selector>
          <processing-info><action>bypass</action></processing-info>
        </ipsec-policy-config>
      </spd-entry>`;

/**
 * What runGateway does up to its data path, with the lines this module adds (attachPolicies
 * right after the Gateway, startSnmp once the data path runs, policies.reload on SIGHUP), on twins.
 */
async function startGatewayWithSnmp(dir: string, config: string, snmp: SnmpOptions) {
  const file = await loadPolicyFile(config);
  const store = await fileLogEventStore({ directory: join(dir, 'log') });
  const keys = memoryKeyStore();
  const specs = await staticSaInstallSpecs(file.staticSas);
  const logged = new Set((await readLog(store)).map((l) => l.streamName));
  for (const s of specs) if (logged.has(`sa-${s.id}`)) await keys.put(`sa-${s.id}`, { ...s.keys });
  const gateway = new Gateway({ name: file.path, deps: { clock: systemClock, random: cryptoRandom, log: factLog(store) }, keys, spd: new Spd(file.policies, { defaultOutbound: file.defaultAction, defaultInbound: file.defaultAction }) });
  const policies = await attachPolicies({ spd: gateway.spd, log: factLog(store), clock: systemClock, random: cryptoRandom, streams: logged, file });
  await gateway.restore([...logged].filter((s) => s.startsWith('sa-')).map((s) => s.slice(3)));
  for (const s of specs) if (!logged.has(`sa-${s.id}`)) await gateway.installSa(s);

  const tun = memoryTun();
  const [bind, peer] = memoryBindPair();
  const fromTun = fromEventPattern<readonly Uint8Array[]>((h) => tun.read(h), (_h, stop: () => void) => stop());
  const fromWireIn = new Subject<Uint8Array[]>();
  const wire = udpWire({ bind, drops: gateway.drops, local: { v4: bind.localAddress }, onDatagrams: (batch) => fromWireIn.next(batch) });
  const subs = [fromTun.pipe(outbound(gateway)).subscribe((packets) => wire.send(packets)), fromWireIn.pipe(inbound(gateway)).subscribe((packets) => tun.write(packets))];
  const agent = await startSnmp(snmp, policies.service);

  const atPeer: Datagram[] = [];
  peer.onReceive((batch) => atPeer.push(...batch));
  /** Sends UDP 10.1.0.5:5000 → `dst`:6000 into the TUN, then a marker to 10.2.0.8 (sealed by the file's rule); resolves when the marker reaches the peer: whether the first packet went out too. */
  const leaves = async (dst: string): Promise<boolean> => {
    const before = atPeer.length;
    tun.host.send([udp('10.1.0.5', dst, 1), udp('10.1.0.5', '10.2.0.8', 2)]);
    for (let i = 0; i < 200 && atPeer.length < before + 1; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const arrived = atPeer.length - before;
    expect(arrived).toBeGreaterThanOrEqual(1); // the marker
    return arrived === 2;
  };
  return {
    gateway, policies, agent, store, leaves,
    async reload() {
      return policies.reload(await loadPolicyFile(config));
    },
    async stop() {
      await agent.close();
      for (const s of subs) s.unsubscribe();
      await gateway.settled().catch(() => {});
      gateway.stop();
      await Promise.allSettled([tun.close(), bind.close(), peer.close()]);
      await store.close();
    },
  };
}

describe.skipIf(!haveTools)('a gateway with --snmp, driven by snmpwalk and snmpset (end to end on twins)', () => {
  it('walk the file\'s policies; createAndWait → columns → active adds a rule the data path obeys, logged as a fact; reloads and a restart keep it; the file takes over an id it names', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsec-es-snmp-'));
    const config = join(dir, 'a.xml');
    writeFileSync(config, policyFile());
    const env = { IPSEC_ES_SNMP_COMMUNITY: 'rw-secret-e2e' };
    const options = snmpOptionsFrom({ snmp: '0' }, env)!;
    let gw = await startGatewayWithSnmp(dir, config, options);
    try {
      const v2 = () => ['-v2c', '-c', env.IPSEC_ES_SNMP_COMMUNITY, '-On', '-r', '0', '-t', '2', `127.0.0.1:${gw.agent.port}`];
      const set = async (...vbs: string[]) => {
        const r = await run('snmpset', [...v2(), ...vbs]);
        expect(r.code, r.out).toBe(0);
      };
      const walkNames = async () => [...(await run('snmpwalk', [...v2(), `${SPD}.3.1.5`])).out.matchAll(/STRING: "([^"]+)"/g)].map((m) => m[1]).sort();
      const storage = async (name: string) => /INTEGER: (\d+)/.exec((await run('snmpget', [...v2(), rule(8, name)])).out)?.[1];
      const decision = (dst: string) => {
        const f = selectorFields(udp('10.1.0.5', dst, 1), 'outbound');
        const d = f.ok ? gw.gateway.spd.classifyOutbound(f) : undefined;
        return d && 'policy' in d ? `${d.action} ${d.policy?.id}` : d?.action;
      };
      const facts = async (id: string) => (await readLog(gw.store)).filter((l) => l.streamName === `policy-${id}`).map((l) => [l.fact.type, (l.fact.data as { source: unknown }).source]);

      // 1. snmpwalk lists the file's policies, shown read-only (StorageType readOnly(5)).
      expect(await walkNames()).toEqual(['lan-in', 'lan-out', 'wan-in', 'wan-out']);
      expect(await storage('lan-out')).toBe('5');
      expect(decision('10.2.0.7')).toBe('protect lan-out');
      expect(await gw.leaves('10.2.0.7')).toBe(true); // sealed and sent to the peer

      // 2. createAndWait → columns → active: a classifier (RFC 3289), a rule (drop), its group row.
      const id = Number(/Gauge32: (\d+)/.exec((await run('snmpget', [...v2(), '1.3.6.1.2.1.97.1.2.5.0'])).out)![1]);
      await set(mf(15, id), 'i', '5');
      await set(mf(2, id), 'i', '1', mf(3, id), 'x', '0A020007', mf(4, id), 'u', '32', mf(5, id), 'x', '0A010000', mf(6, id), 'u', '16', mf(9, id), 'u', '17', mf(10, id), 'u', '6000', mf(11, id), 'u', '6000');
      await set(mf(15, id), 'i', '1');
      await set(rule(9, 'block-6000'), 'i', '5');
      await set(rule(3, 'block-6000'), 'o', `${MF}.1.${id}`, rule(5, 'block-6000'), 'o', DROP);
      await set(rule(9, 'block-6000'), 'i', '1');
      await set(group(8, 10), 'i', '5', group(5, 10), 's', 'block-6000');
      expect(gw.gateway.spd.get('block-6000')).toBeUndefined(); // notInService: not in the SPD yet
      await set(group(8, 10), 'i', '1');
      expect(decision('10.2.0.7')).toBe('discard block-6000');
      expect(decision('10.2.0.8')).toBe('protect lan-out');
      const discarded = gw.gateway.drops.global.discarded ?? 0;
      expect(await gw.leaves('10.2.0.7')).toBe(false);
      expect(gw.gateway.drops.global.discarded).toBe(discarded + 1);
      expect(await facts('block-6000')).toEqual([['PolicyAdded', { via: 'snmp', who: 'community@127.0.0.1' }]]);
      expect(await storage('block-6000')).toBe('3'); // nonVolatile: a manager's rule

      // 3. SIGHUP with a file that no longer names wan-in: the file's own rule goes, the SNMP rule stays.
      writeFileSync(config, policyFile({ dropWanIn: true }));
      expect((await gw.reload()).map((a) => [a.id, a.facts.map((f) => f.type)])).toEqual([['wan-in', ['PolicyRemoved']]]);
      await gw.agent.settled();
      expect(await walkNames()).toEqual(['block-6000', 'lan-in', 'lan-out', 'wan-out']);
      expect(decision('10.2.0.7')).toBe('discard block-6000');
      expect(await gw.leaves('10.2.0.7')).toBe(false);
      expect(await facts('wan-in')).toEqual([['PolicyAdded', { via: 'file', file: config }], ['PolicyRemoved', { via: 'file', file: config }]]);

      // 4. A restart: the SNMP rule has no record but its facts, and comes back from them.
      await gw.stop();
      gw = await startGatewayWithSnmp(dir, config, options);
      expect(gw.policies.restored).toEqual(['block-6000']);
      expect(gw.policies.loaded).toEqual([]); // the log already says what the file says
      expect(await walkNames()).toEqual(['block-6000', 'lan-in', 'lan-out', 'wan-out']);
      expect(await storage('block-6000')).toBe('3');
      expect(decision('10.2.0.7')).toBe('discard block-6000');
      expect(await gw.leaves('10.2.0.7')).toBe(false);

      // 5. The file names block-6000 (as a BYPASS): the file owns it now, managers see it read-only.
      writeFileSync(config, policyFile({ dropWanIn: true, extra: FILE_BLOCK }));
      await gw.reload();
      await gw.agent.settled();
      expect(decision('10.2.0.7')).toBe('bypass block-6000');
      expect(await storage('block-6000')).toBe('5');
      expect((await run('snmpset', [...v2(), group(8, 10), 'i', '6'])).out).toMatch(/notWritable/);
      // ... and once the file stops naming it, it goes (the file was its last writer).
      writeFileSync(config, policyFile({ dropWanIn: true }));
      await gw.reload();
      await gw.agent.settled();
      expect(gw.gateway.spd.get('block-6000')).toBeUndefined();
      expect(decision('10.2.0.7')).toBe('protect lan-out');
      expect(await gw.leaves('10.2.0.7')).toBe(true);
      expect(await walkNames()).toEqual(['lan-in', 'lan-out', 'wan-out']);
      expect(await facts('block-6000')).toEqual([
        ['PolicyAdded', { via: 'snmp', who: 'community@127.0.0.1' }],
        ['PolicyReplaced', { via: 'file', file: config }],
        ['PolicyRemoved', { via: 'file', file: config }],
      ]);
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
