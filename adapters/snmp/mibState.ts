/**
 * The rows of the served tables and the generic SNMP semantics over them: Get/GetNext
 * (RFC 3416 §4.2.1-4.2.3) and the Set rules of RFC 3416 §4.2.5 with RowStatus (RFC 2579).
 * A state is never changed in place: `applySet` works on a copy and returns it, so a failed or
 * not-yet-committed Set leaves what managers read untouched.
 */
import { compareOid, decodeIndex, encodeIndex, oidText, parseOid, startsWith, type IndexValue, type Oid } from './oid.js';
import { RS, ST, T, TABLES, type Column, type Table } from './mibTables.js';

export type Value = number | string | Buffer | number[];

export interface Row {
  index: IndexValue[];
  values: Map<number, Value>;
  /** active, notInService or notReady (RFC 2579). */
  status: number;
  lastChanged: number;
  /** The policy this row was derived from (rows made over SNMP have none). */
  origin?: string;
  /** What a derived row stands for, when its columns cannot say it all (ipsecEsSelectorTable). */
  payload?: unknown;
}

/** Table name → row suffix text → row. */
export type Rows = Map<string, Map<string, Row>>;

export interface MibState {
  rows: Rows;
  /** diffServMultiFieldClfrNextFree (RFC 3289): an unused classifier id. */
  nextFreeMf: number;
}

export const emptyState = (): MibState => ({ rows: new Map(TABLES.map((t) => [t.name, new Map()])), nextFreeMf: 1 });

export function cloneState(s: MibState): MibState {
  const rows: Rows = new Map();
  for (const [t, m] of s.rows) rows.set(t, new Map([...m].map(([k, r]) => [k, { ...r, index: [...r.index], values: new Map(r.values) }])));
  return { rows, nextFreeMf: s.nextFreeMf };
}

export const rowKey = (t: Table, index: readonly IndexValue[]): string => oidText(encodeIndex(t.index, index));
export const getRow = (s: MibState, t: string, index: readonly IndexValue[]): Row | undefined => s.rows.get(t)!.get(rowKey(TABLES.find((x) => x.name === t)!, index));

/** The instance OID of a column of a row (RFC 4807 pointers name a row by its first column). */
export const instanceOid = (t: Table, col: number, index: readonly IndexValue[]): number[] => [...t.entry, col, ...encodeIndex(t.index, index)];

/** A value with its SMI tag, as a varbind carries it. */
export interface Typed {
  type: number;
  value: number | string | Buffer;
}

function typed(c: Column, v: Value): Typed {
  switch (c.kind) {
    case 'uint': return { type: T.GAUGE, value: v as number };
    case 'timestamp': return { type: T.TIMETICKS, value: v as number };
    case 'text': return { type: T.OCTETS, value: Buffer.from(v as string, 'utf8') };
    case 'octets': return { type: T.OCTETS, value: v as Buffer };
    case 'oid': return { type: T.OID, value: oidText(v as number[]) };
    default: return { type: T.INTEGER, value: v as number };
  }
}

function cell(t: Table, c: Column, r: Row): Value | undefined {
  if (c.kind === 'rowStatus') return r.status;
  if (c.kind === 'timestamp') return r.lastChanged;
  if (c.access === 'na') return undefined;
  return r.values.get(c.n) ?? c.def;
}

/** Scalars: instance OID → value at the time of the call. */
export type Scalars = ReadonlyArray<{ oid: Oid; get: () => Typed }>;

/** Every readable instance in OID order (for GetNext/GetBulk and walks). */
export function instances(s: MibState, scalars: Scalars): Array<{ oid: number[]; v: Typed }> {
  const out: Array<{ oid: number[]; v: Typed }> = [];
  for (const x of scalars) out.push({ oid: [...x.oid], v: x.get() });
  for (const t of TABLES) {
    const rows = [...s.rows.get(t.name)!.values()];
    for (const c of t.columns) {
      for (const r of rows) {
        const v = cell(t, c, r);
        if (v !== undefined) out.push({ oid: instanceOid(t, c.n, r.index), v: typed(c, v) });
      }
    }
  }
  return out.sort((a, b) => compareOid(a.oid, b.oid));
}

/** RFC 3416 §4.2.1: the value, or noSuchObject (128) / noSuchInstance (129). */
export function getValue(s: MibState, scalars: Scalars, oid: Oid): Typed {
  const scalar = scalars.find((x) => compareOid(x.oid, oid) === 0);
  if (scalar) return scalar.get();
  for (const t of TABLES) {
    if (!startsWith(oid, t.entry) || oid.length <= t.entry.length) continue;
    const c = t.columns.find((x) => x.n === oid[t.entry.length]);
    if (!c || c.access === 'na') return { type: 128, value: 0 };
    const r = s.rows.get(t.name)!.get(oidText(oid.slice(t.entry.length + 1)));
    const v = r && cell(t, c, r);
    return v === undefined ? { type: 129, value: 0 } : typed(c, v);
  }
  return { type: 128, value: 0 };
}

/** An SNMP error status (RFC 3416 §3) by name, with the 1-based index of the varbind at fault. */
export type SetError = { status: 'noAccess' | 'notWritable' | 'wrongType' | 'wrongLength' | 'wrongValue' | 'noCreation' | 'inconsistentName' | 'inconsistentValue' | 'commitFailed' | 'genErr'; index: number; reason: string };

export interface SetVarbind {
  oid: string;
  type: number;
  value: unknown;
}

/** Where a Set lands: which table, row and column. */
export interface Target {
  t: Table;
  c: Column;
  key: string;
  index: IndexValue[];
  value: Value;
  /** 1-based position in the PDU. */
  at: number;
}

const STORAGE_OK = new Set<number>([ST.volatile, ST.nonVolatile]);

/** RFC 3416 §4.2.5 steps 1-6 for one varbind: where it lands and whether the value fits. */
function target(vb: SetVarbind, at: number, writableScalars: readonly Oid[]): Target | SetError {
  const fail = (status: SetError['status'], reason: string): SetError => ({ status, index: at, reason });
  const oid = parseOid(vb.oid);
  if (!oid) return fail('notWritable', 'not an object identifier');
  if (writableScalars.some((x) => compareOid(x, oid) === 0)) return fail('notWritable', 'this agent serves it read-only');
  const t = TABLES.find((x) => startsWith(oid, x.entry) && oid.length > x.entry.length);
  if (!t) return fail('notWritable', `${vb.oid} is not writable here`);
  const c = t.columns.find((x) => x.n === oid[t.entry.length]);
  if (!c || c.access !== 'rc') return fail('notWritable', `${t.name} column ${String(oid[t.entry.length])} is not writable`);
  const index = decodeIndex(t.index, oid.slice(t.entry.length + 1));
  if (!index) return fail('noCreation', `${t.name}: not a valid row index`);
  if (!t.creatable) return fail('noCreation', `${t.name}: this agent supports no rows in it`);
  let value: Value;
  const v = vb.value;
  switch (c.kind) {
    case 'int': case 'truth': case 'storage': case 'rowStatus':
      if (vb.type !== T.INTEGER || typeof v !== 'number') return fail('wrongType', `${t.name}.${c.name} is an INTEGER`);
      value = v;
      break;
    case 'uint':
      if (vb.type !== T.GAUGE || typeof v !== 'number') return fail('wrongType', `${t.name}.${c.name} is an Unsigned32`);
      value = v;
      break;
    case 'text': case 'octets': {
      if (vb.type !== T.OCTETS || !Buffer.isBuffer(v)) return fail('wrongType', `${t.name}.${c.name} is an OCTET STRING`);
      if ((c.min !== undefined && v.length < c.min) || (c.max !== undefined && v.length > c.max)) return fail('wrongLength', `${t.name}.${c.name}: ${v.length} octets, must be ${c.min ?? 0}..${c.max ?? 65535}`);
      if (c.kind === 'text') {
        const s = v.toString('utf8');
        if (!Buffer.from(s, 'utf8').equals(v)) return fail('wrongValue', `${t.name}.${c.name} must be UTF-8`);
        value = s;
      } else value = Buffer.from(v);
      break;
    }
    case 'oid': {
      const o = vb.type === T.OID && typeof v === 'string' ? parseOid(v) : undefined;
      if (!o) return fail('wrongType', `${t.name}.${c.name} is an OBJECT IDENTIFIER`);
      value = o;
      break;
    }
    default:
      return fail('notWritable', `${t.name}.${c.name} is read-only`);
  }
  if (typeof value === 'number') {
    if (c.kind === 'truth' && value !== 1 && value !== 2) return fail('wrongValue', `${t.name}.${c.name}: true(1) or false(2)`);
    if (c.kind === 'storage' && !STORAGE_OK.has(value)) return fail('wrongValue', `${t.name}.${c.name}: volatile(2) or nonVolatile(3) here`);
    // RFC 2579: notReady is never written by a manager.
    if (c.kind === 'rowStatus' && (value < 1 || value > 6 || value === RS.notReady)) return fail('wrongValue', `${t.name}.${c.name}: ${value} is not a RowStatus a manager may write`);
    if (c.values && !c.values.includes(value)) return fail('wrongValue', `${t.name}.${c.name}: ${value} is not one of ${c.values.join(', ')}`);
    if ((c.min !== undefined && value < c.min) || (c.max !== undefined && value > c.max)) return fail('wrongValue', `${t.name}.${c.name}: ${value} is outside ${c.min}..${c.max}`);
  }
  return { t, c, key: oidText(encodeIndex(t.index, index)), index, value, at };
}

/** The columns a row needs before it may be active: read-create, no DEFVAL. */
export const missingColumns = (t: Table, r: Row): Column[] => t.columns.filter((c) => c.access === 'rc' && c.kind !== 'rowStatus' && c.def === undefined && !r.values.has(c.n));

/** The outcome of the row-level part of a Set: the new state and what it touched. */
export interface Staged {
  state: MibState;
  targets: Target[];
  /** Rows created, changed or destroyed: `table:key`. */
  touched: Set<string>;
  /** RowStatus varbinds per row (for blame), `table:key` → varbind position. */
  statusAt: Map<string, number>;
}

/**
 * Applies a Set PDU's varbinds to a copy of `s` with RFC 2579 RowStatus semantics: a row is
 * created only by createAndGo/createAndWait, becomes active only when complete, and destroy
 * removes it. `canWrite` false (a read-only community or user) fails the first varbind with
 * noAccess (RFC 3416 §4.2.5 step 1). Cross-row consistency is the caller's (./spdMapping.ts).
 */
export function stageSet(s: MibState, varbinds: readonly SetVarbind[], canWrite: boolean, nowTicks: number, readOnlyScalars: readonly Oid[]): Staged | SetError {
  if (!canWrite && varbinds.length > 0) return { status: 'noAccess', index: 1, reason: 'this community or user may not write' };
  const targets: Target[] = [];
  for (let i = 0; i < varbinds.length; i++) {
    const r = target(varbinds[i]!, i + 1, readOnlyScalars);
    if ('status' in r) return r;
    targets.push(r);
  }
  const state = cloneState(s);
  const byRow = new Map<string, Target[]>();
  for (const x of targets) {
    const k = `${x.t.name}:${x.key}`;
    byRow.set(k, [...(byRow.get(k) ?? []), x]);
  }
  const touched = new Set<string>();
  const statusAt = new Map<string, number>();
  for (const [k, group] of byRow) {
    const t = group[0]!.t;
    const rows = state.rows.get(t.name)!;
    const key = group[0]!.key;
    const statuses = group.filter((x) => x.c.kind === 'rowStatus');
    if (statuses.length > 1) return { status: 'inconsistentValue', index: statuses[1]!.at, reason: 'RowStatus set twice in one request' };
    const rs = statuses[0];
    const action = rs?.value as number | undefined;
    if (rs) statusAt.set(k, rs.at);
    let row = rows.get(key);
    if (!row) {
      if (action === RS.destroy) {
        // RFC 2579: destroying a row that does not exist succeeds; other columns cannot be set.
        const other = group.find((x) => x !== rs);
        if (other) return { status: 'inconsistentName', index: other.at, reason: `${t.name}: the row is being destroyed` };
        continue;
      }
      if (action !== RS.createAndGo && action !== RS.createAndWait) {
        return { status: 'inconsistentName', index: (rs ?? group[0]!).at, reason: `${t.name} row ${key} does not exist (create it with createAndGo or createAndWait)` };
      }
      row = { index: group[0]!.index, values: new Map(), status: RS.notReady, lastChanged: nowTicks };
      rows.set(key, row);
    } else {
      if (action === RS.createAndGo || action === RS.createAndWait) return { status: 'inconsistentValue', index: rs!.at, reason: `${t.name} row ${key} already exists` };
      const storageColumn = t.columns.find((c) => c.kind === 'storage');
      const storage = storageColumn ? row.values.get(storageColumn.n) : undefined;
      // RFC 2579 StorageType: readOnly rows cannot be changed; permanent ones cannot be deleted.
      if (storage === ST.readOnly || (storage === ST.permanent && action === RS.destroy)) return { status: 'notWritable', index: group[0]!.at, reason: `${t.name} row ${key} belongs to the policy file (storage ${storage === ST.readOnly ? 'readOnly' : 'permanent'})` };
    }
    for (const x of group) if (x !== rs) row.values.set(x.c.n, x.value);
    row.lastChanged = nowTicks;
    delete row.origin;
    touched.add(k);
    const complete = missingColumns(t, row).length === 0;
    switch (action) {
      case undefined:
        // A column set on a notReady row may complete it (RFC 2579: notReady → notInService).
        if (row.status === RS.notReady && complete) row.status = RS.notInService;
        if (row.status === RS.active && !complete) return { status: 'inconsistentValue', index: group[0]!.at, reason: `${t.name} row ${key} would be incomplete` };
        break;
      case RS.createAndGo:
      case RS.active:
        if (!complete) return { status: 'inconsistentValue', index: rs!.at, reason: `${t.name} row ${key} is not ready: set ${missingColumns(t, row).map((c) => c.name).join(', ')} first` };
        row.status = RS.active;
        break;
      case RS.createAndWait:
        row.status = complete ? RS.notInService : RS.notReady;
        break;
      case RS.notInService:
        if (!complete) return { status: 'inconsistentValue', index: rs!.at, reason: `${t.name} row ${key} is notReady` };
        row.status = RS.notInService;
        break;
      case RS.destroy:
        rows.delete(key);
        break;
    }
  }
  return { state, targets, touched, statusAt };
}
