/**
 * RFC 4807's policy model mapped onto our SPD (RFC 4301 §4.4.1), both ways.
 *
 * - The egress group (spdEgressPolicyGroupName) is SPD-S + SPD-O, the ingress group the inbound
 *   policies; each active spdGroupContentsTable row of those groups naming an active, enabled
 *   rule is one policy: id = the rule's name, priority = the row's spdGroupContPriority.
 * - A rule's filter is spdTrueFilter (any), one diffServMultiFieldClfrTable row (RFC 3289; src and
 *   dst oriented by the group's direction: egress src = local), a compound filter ORing such
 *   rows (a policy's several selector sets, RFC 4301 §4.4.1.2), or an ipsecEsSelectorTable row.
 * - Its action is spdDropAction/spdAcceptAction (DISCARD/BYPASS) or an ipsecEsActionTable row
 *   (PROTECT with mode, proposals, lifetimes...), directly or as the only sub-action of a
 *   compound action.
 * Anything else (negated filters, AND of several filters, time or IPSO filters, nested groups,
 * DSCP or flow label) has no RFC 4301 meaning and is refused with inconsistentValue, as RFC 4807
 * asks for unsupported pointers.
 */
import type { EspSuiteSpec } from '../../engine/crypto/types.js';
import type { IntegId } from '../../engine/crypto/transformIds.js';
import { ahIntegByName, ahIntegName, espSuiteByName, espSuiteName } from '../../engine/policy/suiteNames.js';
import { formatIpAddress } from '../../engine/policy/ipText.js';
import type { AddressSelector, LifetimeLimits, Policy, PolicyDirection, PortSelector, ProtectParams, Selector } from '../../engine/spd/types.js';
import { validatePolicy } from '../../engine/spd/validate.js';
import { decodeIndex, encodeIndex, oidText, startsWith, type IndexValue, type Oid } from './oid.js';
import { ACCEPT_ACTION, ACCEPT_ACTION_LOG, DROP_ACTION, DROP_ACTION_LOG, RS, ST, TABLES, TRUE_FILTER, table, type Table } from './mibTables.js';
import { instanceOid, rowKey, type MibState, type Row, type SetError, type Staged } from './mibState.js';

/** The two policy groups (RFC 4807 spdIngressPolicyGroupName / spdEgressPolicyGroupName). */
export interface Groups {
  ingress: string;
  egress: string;
}
export const DEFAULT_GROUPS: Groups = { ingress: 'ipsec-es-ingress', egress: 'ipsec-es-egress' };

type Pointer = { kind: 'true' | 'drop' | 'accept' | 'unsupported' } | { kind: 'row'; t: Table; key: string; index: IndexValue[] };

const same = (a: Oid, b: Oid) => a.length === b.length && a.every((n, i) => n === b[i]);

function resolve(oid: Oid): Pointer {
  if (same(oid, TRUE_FILTER)) return { kind: 'true' };
  if (same(oid, DROP_ACTION) || same(oid, DROP_ACTION_LOG)) return { kind: 'drop' };
  if (same(oid, ACCEPT_ACTION) || same(oid, ACCEPT_ACTION_LOG)) return { kind: 'accept' };
  for (const t of TABLES) {
    if (!startsWith(oid, t.entry) || oid.length <= t.entry.length + 1) continue;
    const index = decodeIndex(t.index, oid.slice(t.entry.length + 1));
    if (index) return { kind: 'row', t, key: oidText(encodeIndex(t.index, index)), index };
  }
  return { kind: 'unsupported' };
}

const FILTER_TABLES = new Set(['diffServMultiFieldClfrTable', 'spdCompoundFilterTable', 'ipsecEsSelectorTable']);
const ACTION_TABLES = new Set(['ipsecEsActionTable', 'spdCompoundActionTable']);
/** Pointer columns: table → column → what it may point at. */
const POINTERS: Record<string, Record<number, 'filter' | 'action' | 'groupFilter'>> = {
  spdGroupContentsTable: { 3: 'groupFilter' },
  spdRuleDefinitionTable: { 3: 'filter', 5: 'action' },
  spdSubfiltersTable: { 2: 'filter' },
  spdSubactionsTable: { 2: 'action' },
};

function supported(p: Pointer, slot: 'filter' | 'action' | 'groupFilter'): boolean {
  if (slot === 'groupFilter') return p.kind === 'true';
  if (slot === 'filter') return p.kind === 'true' || (p.kind === 'row' && FILTER_TABLES.has(p.t.name));
  return p.kind === 'drop' || p.kind === 'accept' || (p.kind === 'row' && ACTION_TABLES.has(p.t.name));
}

class Refused extends Error {
  constructor(readonly rows: string[], message: string) {
    super(message);
  }
}

const rowsOf = (s: MibState, name: string) => s.rows.get(name)!;
const v = (r: Row, n: number, t: Table): unknown => r.values.get(n) ?? t.columns.find((c) => c.n === n)?.def;

/** A compiled policy and the rows it was made of (`table:key`). */
export interface Compiled {
  policy: Policy;
  rows: Set<string>;
}

/**
 * Checks a staged Set for what RFC 4807 asks across rows (pointers to supported tables and
 * existing rows; active rows refer only to active rows) and compiles the groups into policies.
 */
export function checkAndCompile(staged: Staged, groups: Groups): Map<string, Compiled> | SetError {
  const s = staged.state;
  const blame = (rows: readonly string[]): number => staged.targets.find((x) => rows.includes(`${x.t.name}:${x.key}`))?.at ?? staged.targets[0]?.at ?? 1;
  // Pointers written in this request (RFC 4807: unsupported table → inconsistentValue, missing row → inconsistentName).
  for (const x of staged.targets) {
    const slot = POINTERS[x.t.name]?.[x.c.n];
    if (!slot) continue;
    const p = resolve(x.value as number[]);
    if (!supported(p, slot)) return { status: 'inconsistentValue', index: x.at, reason: `${x.t.name}.${x.c.name}: ${oidText(x.value as number[])} is not a ${slot === 'groupFilter' ? 'filter this agent applies to group rows (only spdTrueFilter.0)' : `${slot} this agent supports`}` };
    if (p.kind === 'row' && !rowsOf(s, p.t.name).has(p.key)) return { status: 'inconsistentName', index: x.at, reason: `${x.t.name}.${x.c.name}: no ${p.t.name} row ${p.key}` };
  }
  // Active rows refer only to existing, active rows (RFC 4807 RowStatus clauses).
  for (const [tname, cols] of Object.entries(POINTERS)) {
    const t = table(tname);
    for (const [key, r] of rowsOf(s, tname)) {
      if (r.status !== RS.active) continue;
      for (const col of Object.keys(cols).map(Number)) {
        const p = resolve(v(r, col, t) as number[]);
        if (p.kind !== 'row') continue;
        const target = rowsOf(s, p.t.name).get(p.key);
        if (!target || target.status !== RS.active) return { status: 'inconsistentValue', index: blame([`${tname}:${key}`, `${p.t.name}:${p.key}`]), reason: `${tname} row ${key} is active and refers to ${p.t.name} row ${p.key}, which is ${target ? 'not active' : 'gone'}` };
      }
    }
  }
  const rules = table('spdRuleDefinitionTable');
  for (const [key, r] of rowsOf(s, 'spdGroupContentsTable')) {
    if (r.status !== RS.active) continue;
    if (v(r, 4, table('spdGroupContentsTable')) === 1) return { status: 'inconsistentValue', index: blame([`spdGroupContentsTable:${key}`]), reason: 'nested groups are not supported: componentType must be rule(2)' };
    const rule = rowsOf(s, rules.name).get(rowKey(rules, [v(r, 5, table('spdGroupContentsTable')) as string]));
    if (!rule || rule.status !== RS.active) return { status: 'inconsistentValue', index: blame([`spdGroupContentsTable:${key}`, `${rules.name}:${rule ? rowKey(rules, rule.index) : ''}`]), reason: `group row ${key} names rule '${String(v(r, 5, table('spdGroupContentsTable')))}', which is not an active rule` };
  }
  const out = new Map<string, Compiled>();
  try {
    for (const [key, r] of rowsOf(s, 'spdGroupContentsTable')) {
      const group = r.index[0] as string;
      if (r.status !== RS.active || (group !== groups.egress && group !== groups.ingress)) continue;
      const direction: PolicyDirection = group === groups.egress ? 'outbound' : 'inbound';
      const id = v(r, 5, table('spdGroupContentsTable')) as string;
      const ruleKey = rowKey(rules, [id]);
      const rule = rowsOf(s, rules.name).get(ruleKey)!;
      const used = new Set([`spdGroupContentsTable:${key}`, `${rules.name}:${ruleKey}`]);
      if (out.has(id)) throw new Refused([...used], `rule '${id}' is in the applied groups twice (one policy, one place in the SPD)`);
      if (v(rule, 6, rules) === 2) continue; // adminStatus disabled: as if its filter failed
      if (v(rule, 4, rules) === 1) throw new Refused([...used], `rule '${id}': negated filters have no RFC 4301 meaning`);
      const selectors = filterSelectors(s, v(rule, 3, rules) as number[], direction, used);
      const action = actionOf(s, v(rule, 5, rules) as number[], direction, used, 0);
      const policy: Policy = { id, priority: r.index[1] as number, direction, selectors, action: action.action, ...(action.protect ? { protect: action.protect } : {}) };
      try {
        validatePolicy(policy, `rule '${id}'`);
      } catch (e) {
        throw new Refused([...used], (e as Error).message);
      }
      out.set(id, { policy, rows: used });
    }
  } catch (e) {
    if (e instanceof Refused) return { status: 'inconsistentValue', index: blame(e.rows), reason: e.message };
    throw e;
  }
  return out;
}

const ANY = { kind: 'any' } as const;

function filterSelectors(s: MibState, oid: Oid, d: PolicyDirection, used: Set<string>): Selector[] {
  const p = resolve(oid);
  if (p.kind === 'true') return [{ localAddress: ANY, remoteAddress: ANY, protocol: ANY, localPort: ANY, remotePort: ANY }];
  if (p.kind !== 'row') throw new Refused([...used], `filter ${oidText(oid)} is not supported`);
  used.add(`${p.t.name}:${p.key}`);
  const row = rowsOf(s, p.t.name).get(p.key)!;
  if (p.t.name === 'diffServMultiFieldClfrTable') return [mfSelector(row, d, used)];
  if (p.t.name === 'ipsecEsSelectorTable') return [row.payload as Selector];
  // A compound filter: OR of its active sub-filters in priority order; AND only of one.
  const subs = [...rowsOf(s, 'spdSubfiltersTable').entries()].filter(([, x]) => x.index[0] === p.index[0] && x.status === RS.active).sort((a, b) => (a[1].index[1] as number) - (b[1].index[1] as number));
  for (const [k] of subs) used.add(`spdSubfiltersTable:${k}`);
  if (subs.length === 0) throw new Refused([...used], `compound filter '${String(p.index[0])}' has no active sub-filter`);
  if (v(row, 3, p.t) === 2 && subs.length > 1) throw new Refused([...used], `compound filter '${String(p.index[0])}': AND of several filters has no RFC 4301 meaning (use OR)`);
  return subs.flatMap(([, x]) => {
    if (v(x, 3, table('spdSubfiltersTable')) === 1) throw new Refused([...used], 'negated sub-filters have no RFC 4301 meaning');
    const inner = resolve(v(x, 2, table('spdSubfiltersTable')) as number[]);
    if (inner.kind === 'row' && inner.t.name === 'spdCompoundFilterTable') throw new Refused([...used], 'compound filters inside compound filters are not supported');
    return filterSelectors(s, v(x, 2, table('spdSubfiltersTable')) as number[], d, used);
  });
}

function mfAddress(type: number, bytes: Buffer, length: number, at: string): AddressSelector {
  if (length === 0) return ANY;
  const size = type === 1 ? 4 : type === 2 ? 16 : 0;
  if (size === 0) throw new Error(`${at}: address type ${type} is not ipv4(1) or ipv6(2)`);
  if (bytes.length !== size) throw new Error(`${at}: ${bytes.length} octets for address type ${type}`);
  if (length > size * 8) throw new Error(`${at}: prefix length ${length} is too long`);
  return length === size * 8 ? { kind: 'single', address: new Uint8Array(bytes) } : { kind: 'prefix', address: new Uint8Array(bytes), length };
}

const mfPorts = (min: number, max: number): PortSelector => (min === 0 && max === 65535 ? ANY : { kind: 'range', from: min, to: max });

function mfSelector(r: Row, d: PolicyDirection, used: Set<string>): Selector {
  const t = table('diffServMultiFieldClfrTable');
  const n = (c: number) => v(r, c, t) as number;
  try {
    if (n(7) !== -1) throw new Error('DSCP is not an RFC 4301 selector (must be -1)');
    if (n(8) !== 0) throw new Error('the IPv6 flow label is not an RFC 4301 selector (must be 0)');
    const dst = mfAddress(n(2), v(r, 3, t) as Buffer, n(4), 'dst');
    const src = mfAddress(n(2), v(r, 5, t) as Buffer, n(6), 'src');
    const dstPorts = mfPorts(n(10), n(11));
    const srcPorts = mfPorts(n(12), n(13));
    const protocol = n(9) === 255 ? ANY : { kind: 'number' as const, value: n(9) };
    // Egress: the packet's source is local; ingress: its destination is (RFC 4301 §4.4.1.1).
    return d === 'outbound'
      ? { localAddress: src, remoteAddress: dst, protocol, localPort: srcPorts, remotePort: dstPorts }
      : { localAddress: dst, remoteAddress: src, protocol, localPort: dstPorts, remotePort: srcPorts };
  } catch (e) {
    throw new Refused([...used], `classifier ${String(r.index[0])}: ${(e as Error).message}`);
  }
}

function actionOf(s: MibState, oid: Oid, d: PolicyDirection, used: Set<string>, depth: number): { action: Policy['action']; protect?: ProtectParams } {
  const p = resolve(oid);
  if (p.kind === 'drop') return { action: 'discard' };
  if (p.kind === 'accept') return { action: 'bypass' };
  if (p.kind !== 'row' || depth > 0 && p.t.name === 'spdCompoundActionTable') throw new Refused([...used], `action ${oidText(oid)} is not supported`);
  used.add(`${p.t.name}:${p.key}`);
  const row = rowsOf(s, p.t.name).get(p.key)!;
  if (p.t.name === 'ipsecEsActionTable') return { action: 'protect', protect: esProtect(row, d, used) };
  const subs = [...rowsOf(s, 'spdSubactionsTable').entries()].filter(([, x]) => x.index[0] === p.index[0] && x.status === RS.active);
  for (const [k] of subs) used.add(`spdSubactionsTable:${k}`);
  if (subs.length !== 1) throw new Refused([...used], `compound action '${String(p.index[0])}': an SPD entry has one action; give it exactly one active sub-action`);
  return actionOf(s, v(subs[0]![1], 2, table('spdSubactionsTable')) as number[], d, used, depth + 1);
}

const limits = (seconds: number, kbytes: number, packets: number): LifetimeLimits => ({
  ...(seconds > 0 ? { timeMs: seconds * 1000 } : {}),
  ...(kbytes > 0 ? { bytes: kbytes * 1024 } : {}),
  ...(packets > 0 ? { packets } : {}),
});

function esProtect(r: Row, d: PolicyDirection, used: Set<string>): ProtectParams {
  const t = table('ipsecEsActionTable');
  const n = (c: number) => v(r, c, t) as number;
  const names = (v(r, 4, t) as string).split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  const esp = n(2) === 1;
  const proposals = names.map((name) => {
    const p = esp ? espSuiteByName(name)?.spec : ahIntegByName(name);
    if (p === undefined) throw new Refused([...used], `ipsecEsActionProposals: unknown ${esp ? 'ESP suite' : 'AH integrity'} '${name}'`);
    return p;
  });
  const common = {
    mode: n(3) === 2 ? ('tunnel' as const) : ('transport' as const),
    lifetimes: { soft: limits(n(8), n(10), n(12)), hard: limits(n(9), n(11), n(13)) },
    replayWindow: n(14),
    esn: n(15) === 1,
    offload: (['none', 'prefer', 'require'] as const)[n(16) - 1]!,
    // The defaults (no NAT-T, hold) stay absent, as a policy file leaves them.
    ...(n(17) === 1 ? { natT: true } : {}),
    ...(n(18) !== 1 ? { negotiationShunt: (['hold', 'drop', 'pass'] as const)[n(18) - 1]! } : {}),
  };
  const local = v(r, 6, t) as Buffer;
  const remote = v(r, 7, t) as Buffer;
  // Outbound SAs leave from us; inbound ones come from the peer (engine/spd/types.ts ProtectCommon).
  const tunnel = common.mode === 'tunnel' ? (d === 'outbound' ? { src: new Uint8Array(local), dst: new Uint8Array(remote) } : { src: new Uint8Array(remote), dst: new Uint8Array(local) }) : undefined;
  const base = { ...common, ...(tunnel ? { tunnel } : {}) };
  return esp ? { ...base, protocol: 'esp', proposals: proposals as EspSuiteSpec[] } : { ...base, protocol: 'ah', proposals: proposals as IntegId[] };
}

// ---- policies → rows (what managers see of policies made elsewhere) ----

function selectorMf(sel: Selector, d: PolicyDirection): Map<number, number | Buffer> | undefined {
  if (sel.icmp && sel.icmp.kind !== 'any') return undefined;
  if (sel.mhType && sel.mhType.kind !== 'any') return undefined;
  const addr = (a: AddressSelector): { bytes: Buffer; length: number; family: number } | undefined =>
    a.kind === 'any' ? { bytes: Buffer.alloc(0), length: 0, family: 0 } : a.kind === 'single' ? { bytes: Buffer.from(a.address), length: a.address.length * 8, family: a.address.length === 4 ? 1 : 2 } : a.kind === 'prefix' ? { bytes: Buffer.from(a.address), length: a.length, family: a.address.length === 4 ? 1 : 2 } : undefined;
  const ports = (p: PortSelector): [number, number] | undefined => (p.kind === 'any' ? [0, 65535] : p.kind === 'range' ? [p.from, p.to] : undefined);
  const [srcSel, dstSel] = d === 'outbound' ? [sel.localAddress, sel.remoteAddress] : [sel.remoteAddress, sel.localAddress];
  const [srcP, dstP] = d === 'outbound' ? [sel.localPort, sel.remotePort] : [sel.remotePort, sel.localPort];
  const src = addr(srcSel);
  const dst = addr(dstSel);
  const sp = ports(srcP);
  const dp = ports(dstP);
  if (!src || !dst || !sp || !dp || sel.protocol.kind === 'opaque' || (sel.protocol.kind === 'number' && sel.protocol.value === 255)) return undefined;
  const family = src.family || dst.family;
  // RFC 3289: with a prefix length of 0 the address is ignored; give it the family's size.
  const pad = (x: { bytes: Buffer; length: number }) => (x.length === 0 && family !== 0 ? Buffer.alloc(family === 1 ? 4 : 16) : x.bytes);
  return new Map<number, number | Buffer>([
    [2, family], [3, pad(dst)], [4, dst.length], [5, pad(src)], [6, src.length], [7, -1], [8, 0],
    [9, sel.protocol.kind === 'number' ? sel.protocol.value : 255], [10, dp[0]], [11, dp[1]], [12, sp[0]], [13, sp[1]],
  ]);
}

function selectorText(sel: Selector): string {
  const a = (x: AddressSelector) => (x.kind === 'any' || x.kind === 'opaque' ? x.kind : x.kind === 'single' ? formatIpAddress(x.address) : x.kind === 'prefix' ? `${formatIpAddress(x.address)}/${x.length}` : `${formatIpAddress(x.from)}-${formatIpAddress(x.to)}`);
  const p = (x: PortSelector) => (x.kind === 'range' ? `${x.from}-${x.to}` : x.kind);
  const parts = [`local ${a(sel.localAddress)}`, `remote ${a(sel.remoteAddress)}`, `protocol ${sel.protocol.kind === 'number' ? sel.protocol.value : sel.protocol.kind}`, `local-port ${p(sel.localPort)}`, `remote-port ${p(sel.remotePort)}`];
  if (sel.icmp && sel.icmp.kind !== 'any') parts.push(`icmp ${sel.icmp.kind === 'range' ? `${sel.icmp.from.type}/${sel.icmp.from.code}-${sel.icmp.to.type}/${sel.icmp.to.code}` : 'opaque'}`);
  if (sel.mhType && sel.mhType.kind !== 'any') parts.push(`mh-type ${sel.mhType.kind === 'range' ? `${sel.mhType.from}-${sel.mhType.to}` : 'opaque'}`);
  return parts.join(' ').slice(0, 255);
}

function esActionValues(p: ProtectParams, d: PolicyDirection): Map<number, number | string | Buffer> {
  const names = p.protocol === 'esp' ? p.proposals.map((x) => espSuiteName(x)) : p.proposals.map((x) => ahIntegName(x));
  const [local, remote] = p.tunnel ? (d === 'outbound' ? [p.tunnel.src, p.tunnel.dst] : [p.tunnel.dst, p.tunnel.src]) : [new Uint8Array(0), new Uint8Array(0)];
  const { soft, hard } = p.lifetimes;
  return new Map<number, number | string | Buffer>([
    [2, p.protocol === 'esp' ? 1 : 2], [3, p.mode === 'tunnel' ? 2 : 1], [4, names.join(',')],
    [5, local.length === 4 ? 1 : local.length === 16 ? 2 : 0], [6, Buffer.from(local)], [7, Buffer.from(remote)],
    [8, Math.floor((soft.timeMs ?? 0) / 1000)], [9, Math.floor((hard.timeMs ?? 0) / 1000)],
    [10, Math.floor((soft.bytes ?? 0) / 1024)], [11, Math.floor((hard.bytes ?? 0) / 1024)],
    [12, soft.packets ?? 0], [13, hard.packets ?? 0], [14, p.replayWindow], [15, p.esn ? 1 : 2],
    [16, ['none', 'prefer', 'require'].indexOf(p.offload) + 1], [17, p.natT ? 1 : 2], [18, ['hold', 'drop', 'pass'].indexOf(p.negotiationShunt ?? 'hold') + 1],
  ]);
}

/** Removes the rows derived from policy `id` and the group and rule rows that name it. */
export function forgetPolicy(s: MibState, id: string): void {
  for (const [name, rows] of s.rows) {
    for (const [key, r] of rows) {
      const namesIt = (name === 'spdGroupContentsTable' && r.values.get(5) === id) || (name === 'spdRuleDefinitionTable' && r.index[0] === id);
      if (r.origin === id || namesIt) rows.delete(key);
    }
  }
}

/**
 * Adds the rows that show `policy` to managers (rule, filter, action, group row). `writable`
 * false marks them readOnly (RFC 2579 StorageType): the policy file owns them. The group
 * priority is the policy's when it is free in the group, else the next free one above (RFC 4807
 * indexes a group's rows by priority; our SPD lets equal priorities keep file order).
 */
export function addPolicyRows(s: MibState, policy: Policy, groups: Groups, writable: boolean, nowTicks: number): void {
  const storage = writable ? ST.nonVolatile : ST.readOnly;
  const add = (tname: string, index: IndexValue[], values: Map<number, unknown>, payload?: unknown): number[] => {
    const t = table(tname);
    const storageCol = t.columns.find((c) => c.kind === 'storage');
    if (storageCol) values.set(storageCol.n, storage);
    const row: Row = { index, values: values as Map<number, number>, status: RS.active, lastChanged: nowTicks, origin: policy.id, ...(payload !== undefined ? { payload } : {}) };
    s.rows.get(tname)!.set(rowKey(t, index), row);
    return instanceOid(t, t.columns[0]!.n, index);
  };
  const filterOf = (sel: Selector, name: string): number[] => {
    const mf = selectorMf(sel, policy.direction);
    if (mf) return add('diffServMultiFieldClfrTable', [s.nextFreeMf++], mf);
    return add('ipsecEsSelectorTable', [name], new Map([[2, selectorText(sel)]]), sel);
  };
  let filter: number[];
  const all = policy.selectors;
  const isAny = (x: Selector) => x.localAddress.kind === 'any' && x.remoteAddress.kind === 'any' && x.protocol.kind === 'any' && x.localPort.kind === 'any' && x.remotePort.kind === 'any' && (!x.icmp || x.icmp.kind === 'any') && (!x.mhType || x.mhType.kind === 'any');
  if (all.length === 1 && isAny(all[0]!)) filter = [...TRUE_FILTER];
  else if (all.length === 1) filter = filterOf(all[0]!, policy.id.slice(0, 32));
  else {
    const name = policy.id.slice(0, 32);
    filter = add('spdCompoundFilterTable', [name], new Map<number, unknown>([[2, `selectors of ${policy.id}`.slice(0, 255)], [3, 1]]));
    all.forEach((sel, i) => add('spdSubfiltersTable', [name, i], new Map<number, unknown>([[2, filterOf(sel, `${name.slice(0, 28)}#${i}`)], [3, 2]])));
  }
  const action = policy.action === 'discard' ? [...DROP_ACTION] : policy.action === 'bypass' ? [...ACCEPT_ACTION] : add('ipsecEsActionTable', [policy.id], esActionValues(policy.protect!, policy.direction));
  add('spdRuleDefinitionTable', [policy.id], new Map<number, unknown>([[2, `${policy.direction} ${policy.action}`], [3, filter], [4, 2], [5, action], [6, 1]]));
  const group = policy.direction === 'outbound' ? groups.egress : groups.ingress;
  const taken = new Set([...s.rows.get('spdGroupContentsTable')!.values()].filter((r) => r.index[0] === group).map((r) => r.index[1] as number));
  let priority = Math.max(0, Math.min(65535, policy.priority));
  while (taken.has(priority) && priority < 65535) priority++;
  add('spdGroupContentsTable', [group, priority], new Map<number, unknown>([[3, [...TRUE_FILTER]], [4, 2], [5, policy.id]]));
}
