/**
 * The objects the agent serves, as data: RFC 4807's IPSEC-SPD-MIB tables and scalars
 * (mib-2 153), DIFFSERV-MIB's multi-field classifier (RFC 3289, mib-2 97), which RFC 4807 uses
 * as its IP header filter, and our enterprise IPSEC-ES-MIB (mibs/IPSEC-ES-MIB.txt) for what
 * RFC 4807 leaves to the expired IPsec action MIB draft. Row state lives in `MibState`
 * (./mibState.ts); this file only says what exists, its syntax and its access.
 */
import type { IndexPart } from './oid.js';

/** ASN.1/SMI tags of the values the agent reads and writes (RFC 2578 §7.1, RFC 3416 §3). */
export const T = { INTEGER: 2, OCTETS: 4, NULL: 5, OID: 6, GAUGE: 66, TIMETICKS: 67 } as const;

export type Kind = 'int' | 'uint' | 'text' | 'octets' | 'oid' | 'timestamp' | 'truth' | 'storage' | 'rowStatus';

export interface Column {
  n: number;
  name: string;
  kind: Kind;
  /** not-accessible (index), read-only, read-create. */
  access: 'na' | 'ro' | 'rc';
  /** Inclusive value range (int/uint) or size range (text/octets). */
  min?: number;
  max?: number;
  /** Enumerated values (INTEGER { ... }). */
  values?: readonly number[];
  /** DEFVAL; a read-create column without one must be set before the row can be active. */
  def?: number | string | Buffer | number[];
}

export interface Table {
  name: string;
  entry: readonly number[];
  index: readonly IndexPart[];
  columns: readonly Column[];
  /** False: the agent serves the table but supports no rows in it (sets give noCreation). */
  creatable: boolean;
}

export const SPD_MIB = [1, 3, 6, 1, 2, 1, 153] as const;
const spd = (...n: number[]) => [...SPD_MIB, 1, ...n];
export const DIFFSERV_MF = [1, 3, 6, 1, 2, 1, 97, 1, 2, 6, 1] as const;
export const DIFFSERV_MF_NEXT_FREE = [1, 3, 6, 1, 2, 1, 97, 1, 2, 5, 0] as const;
/** enterprises.32473 is IANA's enterprise number for documentation (RFC 5612), until ipsec-es has one. */
export const IPSEC_ES_MIB = [1, 3, 6, 1, 4, 1, 32473, 4301] as const;
const es = (...n: number[]) => [...IPSEC_ES_MIB, 1, ...n];

/** Static filter and actions (RFC 4807 spdStaticFilters, spdStaticActions): scalar instances. */
export const TRUE_FILTER = spd(7, 1, 0);
export const DROP_ACTION = spd(13, 1, 0);
export const DROP_ACTION_LOG = spd(13, 2, 0);
export const ACCEPT_ACTION = spd(13, 3, 0);
export const ACCEPT_ACTION_LOG = spd(13, 4, 0);
export const INGRESS_GROUP_NAME = spd(1, 1, 0);
export const EGRESS_GROUP_NAME = spd(1, 2, 0);

const name = (n = 1): Column => ({ n, name: 'name', kind: 'text', access: 'na', min: 1, max: 32 });
const nameIndex: IndexPart = { kind: 'string', min: 1, max: 32 };
const prioIndex: IndexPart = { kind: 'integer', min: 0, max: 65535 };
const housekeeping = (first: number): Column[] => [
  { n: first, name: 'lastChanged', kind: 'timestamp', access: 'ro' },
  { n: first + 1, name: 'storageType', kind: 'storage', access: 'rc', def: 3 },
  { n: first + 2, name: 'rowStatus', kind: 'rowStatus', access: 'rc' },
];
/** RowStatus values (RFC 2579). */
export const RS = { active: 1, notInService: 2, notReady: 3, createAndGo: 4, createAndWait: 5, destroy: 6 } as const;
/** StorageType values (RFC 2579). */
export const ST = { other: 1, volatile: 2, nonVolatile: 3, permanent: 4, readOnly: 5 } as const;

export const TABLES: readonly Table[] = [
  {
    name: 'spdEndpointToGroupTable', entry: spd(2, 1), creatable: false,
    index: [{ kind: 'integer', min: 1, max: 2 }, { kind: 'integer', min: 1, max: 2147483647 }],
    columns: [{ n: 1, name: 'direction', kind: 'int', access: 'na' }, { n: 2, name: 'interface', kind: 'int', access: 'na' }, { n: 3, name: 'groupName', kind: 'text', access: 'rc', min: 1, max: 32 }, ...housekeeping(4)],
  },
  {
    name: 'spdGroupContentsTable', entry: spd(3, 1), creatable: true, index: [nameIndex, prioIndex],
    columns: [
      name(), { n: 2, name: 'priority', kind: 'int', access: 'na' },
      { n: 3, name: 'filter', kind: 'oid', access: 'rc', def: TRUE_FILTER },
      { n: 4, name: 'componentType', kind: 'int', access: 'rc', values: [1, 2], def: 2 },
      { n: 5, name: 'componentName', kind: 'text', access: 'rc', min: 1, max: 32 },
      ...housekeeping(6),
    ],
  },
  {
    name: 'spdRuleDefinitionTable', entry: spd(4, 1), creatable: true, index: [nameIndex],
    columns: [
      name(), { n: 2, name: 'description', kind: 'text', access: 'rc', min: 0, max: 255, def: '' },
      { n: 3, name: 'filter', kind: 'oid', access: 'rc' },
      { n: 4, name: 'filterNegated', kind: 'truth', access: 'rc', def: 2 },
      { n: 5, name: 'action', kind: 'oid', access: 'rc' },
      { n: 6, name: 'adminStatus', kind: 'int', access: 'rc', values: [1, 2], def: 1 },
      ...housekeeping(7),
    ],
  },
  {
    name: 'spdCompoundFilterTable', entry: spd(5, 1), creatable: true, index: [nameIndex],
    columns: [name(), { n: 2, name: 'description', kind: 'text', access: 'rc', min: 0, max: 255, def: '' }, { n: 3, name: 'logicType', kind: 'int', access: 'rc', values: [1, 2], def: 2 }, ...housekeeping(4)],
  },
  {
    name: 'spdSubfiltersTable', entry: spd(6, 1), creatable: true, index: [nameIndex, prioIndex],
    columns: [{ n: 1, name: 'priority', kind: 'int', access: 'na' }, { n: 2, name: 'subfilter', kind: 'oid', access: 'rc' }, { n: 3, name: 'isNegated', kind: 'truth', access: 'rc', def: 2 }, ...housekeeping(4)],
  },
  {
    // Byte-offset filters have no counterpart in RFC 4301 selectors.
    name: 'spdIpOffsetFilterTable', entry: spd(8, 1), creatable: false, index: [nameIndex],
    columns: [name(), { n: 2, name: 'offset', kind: 'uint', access: 'rc', min: 0, max: 65535 }, { n: 3, name: 'type', kind: 'int', access: 'rc', values: [1, 2, 3, 4, 5, 6] }, { n: 4, name: 'value', kind: 'octets', access: 'rc', min: 1, max: 1024 }, ...housekeeping(5)],
  },
  {
    // RFC 4301 selectors have no time of day: rules are in force or not (AdminStatus).
    name: 'spdTimeFilterTable', entry: spd(9, 1), creatable: false, index: [nameIndex],
    columns: [name(), { n: 2, name: 'period', kind: 'text', access: 'rc', min: 0, max: 31 }, { n: 3, name: 'monthOfYearMask', kind: 'octets', access: 'rc' }, { n: 4, name: 'dayOfMonthMask', kind: 'octets', access: 'rc', min: 8, max: 8 }, { n: 5, name: 'dayOfWeekMask', kind: 'octets', access: 'rc' }, { n: 6, name: 'timeOfDayMask', kind: 'text', access: 'rc', min: 0, max: 31 }, ...housekeeping(7)],
  },
  {
    // IPSO (RFC 1108) labels are not RFC 4301 selectors.
    name: 'spdIpsoHeaderFilterTable', entry: spd(10, 1), creatable: false, index: [nameIndex],
    columns: [name(), { n: 2, name: 'type', kind: 'octets', access: 'rc' }, { n: 3, name: 'classification', kind: 'int', access: 'rc', values: [61, 90, 150, 171] }, { n: 4, name: 'protectionAuth', kind: 'int', access: 'rc', values: [0, 1, 2, 3, 4] }, ...housekeeping(5)],
  },
  {
    name: 'spdCompoundActionTable', entry: spd(11, 1), creatable: true, index: [nameIndex],
    columns: [name(), { n: 2, name: 'executionStrategy', kind: 'int', access: 'rc', values: [1, 2, 3], def: 2 }, ...housekeeping(3)],
  },
  {
    name: 'spdSubactionsTable', entry: spd(12, 1), creatable: true, index: [nameIndex, prioIndex],
    columns: [{ n: 1, name: 'priority', kind: 'int', access: 'na' }, { n: 2, name: 'subAction', kind: 'oid', access: 'rc' }, ...housekeeping(3)],
  },
  {
    name: 'diffServMultiFieldClfrTable', entry: DIFFSERV_MF, creatable: true, index: [{ kind: 'integer', min: 1, max: 4294967295 }],
    columns: [
      { n: 1, name: 'id', kind: 'uint', access: 'na' },
      { n: 2, name: 'addrType', kind: 'int', access: 'rc', values: [0, 1, 2, 3, 4, 16], def: 0 },
      { n: 3, name: 'dstAddr', kind: 'octets', access: 'rc', min: 0, max: 255, def: Buffer.alloc(0) },
      { n: 4, name: 'dstPrefixLength', kind: 'uint', access: 'rc', min: 0, max: 2040, def: 0 },
      { n: 5, name: 'srcAddr', kind: 'octets', access: 'rc', min: 0, max: 255, def: Buffer.alloc(0) },
      { n: 6, name: 'srcPrefixLength', kind: 'uint', access: 'rc', min: 0, max: 2040, def: 0 },
      { n: 7, name: 'dscp', kind: 'int', access: 'rc', min: -1, max: 63, def: -1 },
      { n: 8, name: 'flowId', kind: 'uint', access: 'rc', min: 0, max: 1048575, def: 0 },
      { n: 9, name: 'protocol', kind: 'uint', access: 'rc', min: 0, max: 255, def: 255 },
      { n: 10, name: 'dstL4PortMin', kind: 'uint', access: 'rc', min: 0, max: 65535, def: 0 },
      { n: 11, name: 'dstL4PortMax', kind: 'uint', access: 'rc', min: 0, max: 65535, def: 65535 },
      { n: 12, name: 'srcL4PortMin', kind: 'uint', access: 'rc', min: 0, max: 65535, def: 0 },
      { n: 13, name: 'srcL4PortMax', kind: 'uint', access: 'rc', min: 0, max: 65535, def: 65535 },
      { n: 14, name: 'storageType', kind: 'storage', access: 'rc', def: 3 },
      { n: 15, name: 'rowStatus', kind: 'rowStatus', access: 'rc' },
    ],
  },
  {
    name: 'ipsecEsActionTable', entry: es(1, 1), creatable: true, index: [nameIndex],
    columns: [
      name(),
      { n: 2, name: 'protocol', kind: 'int', access: 'rc', values: [1, 2], def: 1 },
      { n: 3, name: 'mode', kind: 'int', access: 'rc', values: [1, 2], def: 1 },
      { n: 4, name: 'proposals', kind: 'text', access: 'rc', min: 1, max: 255 },
      { n: 5, name: 'tunnelAddrType', kind: 'int', access: 'rc', values: [0, 1, 2], def: 0 },
      { n: 6, name: 'tunnelLocal', kind: 'octets', access: 'rc', min: 0, max: 16, def: Buffer.alloc(0) },
      { n: 7, name: 'tunnelRemote', kind: 'octets', access: 'rc', min: 0, max: 16, def: Buffer.alloc(0) },
      { n: 8, name: 'softLifetimeSeconds', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 9, name: 'hardLifetimeSeconds', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 10, name: 'softLifetimeKBytes', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 11, name: 'hardLifetimeKBytes', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 12, name: 'softLifetimePackets', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 13, name: 'hardLifetimePackets', kind: 'uint', access: 'rc', min: 0, max: 4294967295, def: 0 },
      { n: 14, name: 'replayWindow', kind: 'uint', access: 'rc', min: 0, max: 4096, def: 64 },
      { n: 15, name: 'esn', kind: 'truth', access: 'rc', def: 2 },
      { n: 16, name: 'offload', kind: 'int', access: 'rc', values: [1, 2, 3], def: 1 },
      { n: 17, name: 'natTraversal', kind: 'truth', access: 'rc', def: 2 },
      { n: 18, name: 'negotiationShunt', kind: 'int', access: 'rc', values: [1, 2, 3], def: 1 },
      { n: 19, name: 'storageType', kind: 'storage', access: 'rc', def: 3 },
      { n: 20, name: 'rowStatus', kind: 'rowStatus', access: 'rc' },
    ],
  },
  {
    // Selector sets the diffServ classifier cannot express (address ranges, ICMP type/code,
    // MH type, OPAQUE): shown as text, read-only; made only by the file or the CLI.
    name: 'ipsecEsSelectorTable', entry: es(2, 1), creatable: false, index: [nameIndex],
    columns: [name(), { n: 2, name: 'text', kind: 'text', access: 'ro', min: 0, max: 255 }, { n: 3, name: 'rowStatus', kind: 'rowStatus', access: 'ro' }],
  },
];

export const tableByName = new Map(TABLES.map((t) => [t.name, t]));
export const table = (n: string): Table => tableByName.get(n)!;
export const column = (t: Table, name: string): Column => t.columns.find((c) => c.name === name)!;
export const rowStatusColumn = (t: Table): Column | undefined => t.columns.find((c) => c.kind === 'rowStatus');
