/**
 * An SNMP agent for the SPD (RFC 4807 IPSEC-SPD-MIB, with DIFFSERV-MIB's classifier as its IP
 * header filter and our IPSEC-ES-MIB for PROTECT parameters; see ./spdMapping.ts). net-snmp
 * receives and sends the messages and checks communities and USM users (RFC 3414: SNMPv3
 * authPriv); this agent answers the PDUs itself so that a Set is all or nothing (RFC 3416
 * §4.2.5): every varbind is checked, the rows are staged on a copy, the result is compiled into
 * policies, those are recorded as facts and applied through the `PolicyService`, and only then
 * do managers see the new rows. Sets run one at a time; Gets read the last committed state.
 *
 * Opt-in and local by default: it binds 127.0.0.1 unless told otherwise. A malformed or
 * unauthenticated message is a counted drop, never an exception; an SNMPv3 message that fails
 * the USM's checks gets the Report RFC 3414 §3.2 asks for (./usm.ts).
 */
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import snmp, { type Agent, type Message, type RemoteInfo, type Varbind } from 'net-snmp';
import type { PolicySource } from '../../engine/events/otherFacts.js';
import type { SnmpPolicyChange, SnmpPolicyPort } from './policyPort.js';
import { samePolicy } from '../../engine/policy/policyData.js';
import { DIFFSERV_MF_NEXT_FREE, DROP_ACTION, DROP_ACTION_LOG, ACCEPT_ACTION, ACCEPT_ACTION_LOG, EGRESS_GROUP_NAME, INGRESS_GROUP_NAME, T, TRUE_FILTER } from './mibTables.js';
import { cloneState, emptyState, getValue, instances, stageSet, type MibState, type Scalars, type SetError, type Typed } from './mibState.js';
import { compareOid, parseOid, type Oid } from './oid.js';
import { addPolicyRows, checkAndCompile, DEFAULT_GROUPS, forgetPolicy, type Groups } from './spdMapping.js';
import { usmFailure, usmReport, type UsmUser } from './usm.js';

export type Access = 'readOnly' | 'readWrite';

export interface SnmpCommunity {
  community: string;
  access: Access;
  /** Recorded as the `who` of facts instead of the community string (which is a password). */
  name?: string;
}

/** An SNMPv3 USM user with authentication and privacy (authPriv, RFC 3414 / RFC 3826). */
export interface SnmpUser {
  name: string;
  access: Access;
  authProtocol: 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  authKey: string;
  privProtocol: 'aes' | 'aes256b' | 'aes256r';
  privKey: string;
}

export interface SnmpAgentOptions {
  /** Who owns the SPD (a `PolicyService`). */
  policies: SnmpPolicyPort;
  /** Default 127.0.0.1; an IPv6 address listens on UDP over IPv6. */
  address?: string;
  /** 0: any free port (tests). There is no default: SNMP is opt-in. */
  port: number;
  communities?: readonly SnmpCommunity[];
  users?: readonly SnmpUser[];
  groups?: Groups;
  /** SNMPv3 engine ID as hex (RFC 3411); net-snmp makes one up when absent. */
  engineID?: string;
}

export interface SnmpCounters {
  requests: number;
  sets: number;
  setsRefused: number;
  /** Messages with an unknown community (RFC 3584: dropped without a response). */
  badCommunity: number;
  /** SNMPv3 messages whose digest did not verify (RFC 3414 §3.2 step 6; Report usmStatsWrongDigests). */
  wrongDigests: number;
  /** SNMPv3 messages that authenticated but did not decrypt (step 8; Report usmStatsDecryptionErrors). */
  decryptionErrors: number;
  /** SNMPv3 messages to another engine ID (step 3; Report usmStatsUnknownEngineIDs). */
  unknownEngineIDs: number;
  /** Undecodable messages and other drops. */
  malformed: number;
  internalErrors: number;
}

const ERROR_STATUS: Record<SetError['status'], number> = { noAccess: 6, notWritable: 17, wrongType: 7, wrongLength: 8, wrongValue: 10, noCreation: 11, inconsistentName: 18, inconsistentValue: 12, commitFailed: 14, genErr: 5 };

export interface SnmpAgent {
  readonly address: string;
  readonly port: number;
  readonly counters: SnmpCounters;
  /** The reason of each refused Set, newest last (for logs and tests). */
  readonly refusals: Array<{ who: string; status: SetError['status']; index: number; reason: string }>;
  /** Resolves when every Set and every change from elsewhere received so far is reflected. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the agent; resolves once it listens.
 *
 * @example
 * const agent = await startSnmpAgent({ policies, port: 16161, communities: [{ community: 'ops-secret', name: 'ops', access: 'readWrite' }] });
 * // snmpwalk -v2c -c ops-secret 127.0.0.1:16161 1.3.6.1.2.1.153
 */
export async function startSnmpAgent(o: SnmpAgentOptions): Promise<SnmpAgent> {
  const groups = o.groups ?? DEFAULT_GROUPS;
  const counters: SnmpCounters = { requests: 0, sets: 0, setsRefused: 0, badCommunity: 0, wrongDigests: 0, decryptionErrors: 0, unknownEngineIDs: 0, malformed: 0, internalErrors: 0 };
  const refusals: SnmpAgent['refusals'] = [];
  const started = Date.now();
  const ticks = () => Math.floor((Date.now() - started) / 10) >>> 0;
  const spd = o.policies.spd;

  // The MIB as managers see it: every policy of the SPD, as rows.
  let state: MibState = emptyState();
  for (const p of spd.list()) addPolicyRows(state, p, groups, o.policies.state(p.id)?.source?.via === 'snmp', 0);
  let sorted: Array<{ oid: number[]; v: Typed }> | undefined;

  const int = (value: number): Typed => ({ type: T.INTEGER, value });
  const scalars: Scalars = [
    { oid: INGRESS_GROUP_NAME, get: () => ({ type: T.OCTETS, value: Buffer.from(groups.ingress) }) },
    { oid: EGRESS_GROUP_NAME, get: () => ({ type: T.OCTETS, value: Buffer.from(groups.egress) }) },
    { oid: TRUE_FILTER, get: () => int(1) },
    { oid: DROP_ACTION, get: () => int(1) },
    { oid: DROP_ACTION_LOG, get: () => int(1) },
    { oid: ACCEPT_ACTION, get: () => int(1) },
    { oid: ACCEPT_ACTION_LOG, get: () => int(1) },
    { oid: DIFFSERV_MF_NEXT_FREE, get: () => ({ type: T.GAUGE, value: state.nextFreeMf }) },
  ];
  const readOnlyScalars = scalars.map((s) => s.oid);
  const all = () => (sorted ??= instances(state, scalars));

  const access = new Map<string, { access: Access; who: string }>();
  const v3Access = new Map<string, Access>();
  const address = o.address ?? '127.0.0.1';
  const transport = isIP(address) === 6 ? 'udp6' : 'udp4';
  // net-snmp reads port 0 as "the default, 161": find a free port ourselves.
  const wanted = o.port === 0 ? await freePort(address, transport) : o.port;
  const agent: Agent = snmp.createAgent({ port: wanted, address, transport, ...(o.engineID ? { engineID: o.engineID } : {}) }, (error) => {
    if (!error) return;
    const code = (error as { code?: number }).code;
    // ./usm.ts answers these before net-snmp sees them; what is left is counted the same way.
    if (code === snmp.ResponseInvalidCode.EAuthFailure) counters.wrongDigests++;
    else if (code === snmp.ResponseInvalidCode.ECouldNotDecrypt) counters.decryptionErrors++;
    else if (/community not found|user .*not found|Local user/i.test(error.message)) counters.badCommunity++;
    else counters.malformed++;
  });
  const authorizer = agent.getAuthorizer();
  for (const c of o.communities ?? []) {
    authorizer.addCommunity(c.community);
    access.set(c.community, { access: c.access, who: c.name ?? c.community });
  }
  const usmUsers: UsmUser[] = [];
  for (const u of o.users ?? []) {
    const user = { name: u.name, authProtocol: snmp.AuthProtocols[u.authProtocol]!, authKey: u.authKey, privProtocol: snmp.PrivProtocols[u.privProtocol]!, privKey: u.privKey };
    authorizer.addUser({ ...user, level: snmp.SecurityLevel.authPriv });
    usmUsers.push(user);
    v3Access.set(u.name, u.access);
  }
  const socket = Object.values(agent.listener.sockets)[0]!;
  try {
    socket.address();
  } catch {
    await once(socket, 'listening'); // not bound yet
  }
  const port = socket.address().port;
  // RFC 3414 §3.2 in its order (digest before decryption), with a Report for each failure when
  // the request is reportable (RFC 3412 §7.2.6 step 3); net-snmp gets what passes.
  socket.removeAllListeners('message');
  socket.on('message', (buffer: Buffer, rinfo: RemoteInfo) => {
    const failed = usmUsers.length > 0 ? usmFailure(buffer, usmUsers, agent.engine.engineID) : undefined;
    if (!failed) return agent.onMsg(socket, buffer, rinfo);
    const count = ++counters[failed.failure];
    if ((failed.header.flags & 4) === 0) return;
    try {
      socket.send(usmReport(failed.header, failed.failure, count, agent.engine), rinfo.port, rinfo.address);
    } catch {
      counters.internalErrors++;
    }
  });

  const principal = (m: Message, rinfo: RemoteInfo): { who: string; canWrite: boolean } => {
    if (m.version === snmp.Version3) {
      const name = m.user?.name ?? '';
      return { who: `${name}@${rinfo.address}`, canWrite: v3Access.get(name) === 'readWrite' };
    }
    const a = access.get(m.community ?? '');
    return { who: `${a?.who ?? '?'}@${rinfo.address}`, canWrite: a?.access === 'readWrite' };
  };

  const respond = (sock: Socket, m: Message, rinfo: RemoteInfo, varbinds: Varbind[], errorStatus = 0, errorIndex = 0) => {
    const r = m.pdu.getResponsePduForRequest();
    r.varbinds = varbinds;
    if (errorStatus !== 0) {
      r.errorStatus = errorStatus;
      r.errorIndex = errorIndex;
    }
    agent.sendResponse(sock, rinfo, m, r);
  };
  const guarded = (fn: (sock: Socket, m: Message, rinfo: RemoteInfo) => void) => (sock: Socket, m: Message, rinfo: RemoteInfo) => {
    counters.requests++;
    try {
      fn(sock, m, rinfo);
    } catch {
      counters.internalErrors++;
      try {
        respond(sock, m, rinfo, m.pdu.varbinds.map((vb) => ({ oid: vb.oid, type: T.NULL, value: null })), 5, 1);
      } catch {
        /* nothing more to say to this manager */
      }
    }
  };
  const v1 = (m: Message) => m.version === snmp.Version1;
  const vb = (oid: string, t: Typed): Varbind => ({ oid, type: t.type, value: t.type >= 128 ? null : t.value });
  const next = (oid: Oid): { oid: number[]; v: Typed } | undefined => {
    const list = all();
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareOid(list[mid]!.oid, oid) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return list[lo];
  };

  agent.getRequest = guarded((sock, m, rinfo) => {
    const out = m.pdu.varbinds.map((x) => {
      const oid = parseOid(x.oid);
      return vb(x.oid, oid ? getValue(state, scalars, oid) : { type: 128, value: 0 });
    });
    const missing = out.findIndex((x) => x.type >= 128);
    // SNMPv1 has no exception values: noSuchName (RFC 3584 §4.2.1).
    if (v1(m) && missing >= 0) return respond(sock, m, rinfo, m.pdu.varbinds, 2, missing + 1);
    respond(sock, m, rinfo, out);
  });
  const getNext = (x: Varbind): Varbind => {
    const n = next(parseOid(x.oid) ?? []);
    return n ? vb(n.oid.join('.'), n.v) : { oid: x.oid, type: 130, value: null };
  };
  agent.getNextRequest = guarded((sock, m, rinfo) => {
    const out = m.pdu.varbinds.map(getNext);
    const end = out.findIndex((x) => x.type === 130);
    if (v1(m) && end >= 0) return respond(sock, m, rinfo, m.pdu.varbinds, 2, end + 1);
    respond(sock, m, rinfo, out);
  });
  agent.getBulkRequest = guarded((sock, m, rinfo) => {
    // RFC 3416 §4.2.3, bounded so that a response fits in a datagram.
    const vbs = m.pdu.varbinds;
    const n = Math.max(0, Math.min(m.pdu.nonRepeaters ?? 0, vbs.length));
    const reps = Math.max(0, Math.min(m.pdu.maxRepetitions ?? 0, 1000));
    const out = vbs.slice(0, n).map(getNext);
    let cursor = vbs.slice(n);
    for (let r = 0; r < reps && cursor.length > 0 && out.length < 500; r++) {
      cursor = cursor.map(getNext);
      out.push(...cursor);
      if (cursor.every((x) => x.type === 130)) break;
    }
    respond(sock, m, rinfo, out);
  });

  let queue: Promise<unknown> = Promise.resolve();
  let ownSource: PolicySource | undefined;
  const enqueue = (job: () => Promise<void> | void) => {
    const run = queue.then(job).catch(() => { counters.internalErrors++; });
    queue = run;
    return run;
  };

  agent.setRequest = guarded((sock, m, rinfo) => {
    counters.sets++;
    const { who, canWrite } = principal(m, rinfo);
    const request = m.pdu.varbinds.map((x) => ({ oid: x.oid, type: x.type, value: x.value }));
    const refuse = (e: SetError) => {
      counters.setsRefused++;
      refusals.push({ who, ...e });
      if (refusals.length > 100) refusals.shift();
      respond(sock, m, rinfo, m.pdu.varbinds, ERROR_STATUS[e.status], e.index);
    };
    void enqueue(async () => {
      try {
        const staged = stageSet(state, request, canWrite, ticks(), readOnlyScalars);
        if ('status' in staged) return refuse(staged);
        const compiled = checkAndCompile(staged, groups);
        if ('status' in compiled) return refuse(compiled);
        const changes: SnmpPolicyChange[] = [];
        for (const [id, c] of compiled) {
          const touched = [...c.rows].some((r) => staged.touched.has(r));
          const live = spd.get(id);
          if ((touched || !live) && !(live && samePolicy(live, c.policy))) changes.push({ kind: 'put', policy: c.policy });
        }
        const before = new Set(compiledIds(state));
        for (const id of before) if (!compiled.has(id) && spd.get(id)) changes.push({ kind: 'remove', id });
        if (changes.length > 0) {
          const source: PolicySource = { via: 'snmp', who };
          ownSource = source;
          try {
            await o.policies.apply(changes, source);
          } catch (e) {
            return refuse({ status: 'commitFailed', index: 1, reason: (e as Error).message });
          } finally {
            ownSource = undefined;
          }
        }
        state = staged.state;
        sorted = undefined;
        respond(sock, m, rinfo, m.pdu.varbinds);
      } catch {
        counters.internalErrors++;
        respond(sock, m, rinfo, m.pdu.varbinds, 5, 1);
      }
    });
  });

  /** Ids of the policies `s` compiles to (the group rows of the applied groups). */
  const compiledIds = (s: MibState): string[] =>
    [...s.rows.get('spdGroupContentsTable')!.values()].filter((r) => r.status === 1 && (r.index[0] === groups.egress || r.index[0] === groups.ingress)).map((r) => r.values.get(5) as string);

  // Changes made elsewhere (file reload, CLI) show up as rows; ours are already there.
  const unsubscribe = o.policies.onChange((changes, source) => {
    if (source === ownSource) return;
    void enqueue(() => {
      const s = cloneState(state);
      for (const c of changes) {
        forgetPolicy(s, c.id);
        const p = spd.get(c.id);
        if (p) addPolicyRows(s, p, groups, source.via === 'snmp', ticks());
      }
      state = s;
      sorted = undefined;
    });
  });

  return {
    address,
    port,
    counters,
    refusals,
    settled: () => queue.then(() => undefined),
    close: async () => {
      unsubscribe();
      await queue.catch(() => undefined);
      await new Promise<void>((resolve) => agent.close(() => resolve()));
    },
  };
}

async function freePort(address: string, transport: 'udp4' | 'udp6'): Promise<number> {
  const s = createSocket(transport);
  s.bind(0, address);
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
