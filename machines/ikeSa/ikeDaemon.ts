/**
 * IKEv2 (RFC 7296) as the gateway's key manager: IKE_SA_INIT, IKE_AUTH with pre-shared keys,
 * CREATE_CHILD_SA (new CHILD SA, CHILD SA rekey, IKE SA rekey) and INFORMATIONAL (DELETE,
 * liveness), as initiator and responder, over ESP-in-UDP's port (RFC 3948 non-ESP marker).
 *
 * The acquire machine calls `acquire` on an SA miss, the rekey coordinator `rekeyChild`, the IKE
 * SA's lifecycle `rekeyIke`; a peer's requests come in through `receive`. Every exchange ends in
 * an `IkeExchangeCompleted` fact in the IKE SA's stream (`ike-<id>`), SAs are installed through
 * the gateway (facts first), and randomness (SPIs, nonces, DH private keys, IVs) comes from the
 * Random port, so a run is repeatable under a seeded twin.
 */
import type { Subscription } from 'rxjs';
import type { EspKeys } from '../../engine/crypto/types.js';
import type { EspSuiteSpec } from '../../engine/crypto/types.js';
import { pskAuth, signedOctets, verifyPskAuth, type IdentityForAuth } from '../../engine/ike/auth.js';
import { concatBytes, uintBytes } from '../../engine/ike/codec.js';
import { COOKIE_MAX_LENGTH, DH_GROUP, IKE_EXCHANGE, IKE_PROTOCOL, IKE_SPI_LENGTH, NOTIFY_TYPE, isNotifyError, notifyTypeName, type DhGroupId } from '../../engine/ike/constants.js';
import { checkDhPublicValue, dhKeyPair, dhSharedSecret, isValidDhPrivateKey, type DhKeyPair } from '../../engine/ike/dh.js';
import { decodeIkeHeader } from '../../engine/ike/header.js';
import { deriveChildSaKeys, deriveIkeSaKeys, deriveRekeyedIkeSaKeys, type ChildSaKeys, type IkeSaKeys } from '../../engine/ike/keySchedule.js';
import { decodeIkeMessage, encodeIkeMessage, notifyForDecodeFailure } from '../../engine/ike/message.js';
import { detectNat, natDetectionHash, natDetectionNotifies } from '../../engine/ike/natd.js';
import { createPrf } from '../../engine/ike/prf.js';
import type { AddressRangeSelector, IkeHeader, IkeMessage, IkePayload, NotifyPayload, SaPayload, TrafficSelector } from '../../engine/ike/types.js';
import { formatIpAddress, parseIpAddress } from '../../engine/policy/ipText.js';
import type { Policy } from '../../engine/spd/types.js';
import type { Gateway } from '../gateway/gateway.js';
import type { AcquireRequest, InstalledPair, KeyManager, MachineDeps } from '../ports.js';
import { IkeSession, IkeTimeout, exchangeName, type IkePath } from './ikeSession.js';
import { acceptedChildSuite, acceptedIkeSuite, childSaPayload, chooseChildProposal, chooseIkeProposal, ikeSaPayload, type ChildSuite, type IkeSuite } from './proposals.js';
import { formatTs, narrowTs, selectorToTs } from './trafficSelectors.js';
import { rekeyCollisionLoser } from '../rekey/collision.js';
import { evolveIkeSa, initialIkeSaState } from '../../engine/aggregates/ikeSa.js';
import type { IkeFact } from '../../engine/events/otherFacts.js';

/** One CHILD SA template of a peer: the outbound and inbound PROTECT policies it serves. */
export interface IkeChildConfig {
  name: string;
  outPolicyId: string;
  inPolicyId: string;
}

/** One IKE peer (a `<conn-entry>` of the policy file with its PAD entries). */
export interface IkePeerConfig {
  name: string;
  local: { address: string; id: IdentityForAuth };
  /** `port` defaults to 4500: we start on the NAT-T port (RFC 7296 §2.23 allows it). */
  remote: { address: string; port?: number; id: IdentityForAuth };
  /** The pre-shared key both sides prove (RFC 7296 §2.15). */
  psk: Uint8Array;
  /** Most preferred first. */
  ikeSuites: readonly IkeSuite[];
  ikeLifetimes?: { softMs?: number; hardMs?: number };
  children: readonly IkeChildConfig[];
  /** Inbound SPIs for this peer's CHILD SAs. */
  spiRange?: { min: number; max: number };
}

/** Where IKE messages leave: UDP to `to`, behind the non-ESP marker when `natT` (port 4500). */
export interface IkeTransport {
  send(message: Uint8Array, to: { address: string; port: number }, natT: boolean): void;
  /** Sends a NAT-keepalive (the octet 0xFF on the NAT-T port, RFC 3948 §2.3); absent: none are sent. */
  keepalive?(to: { address: string; port: number }): void;
}

export interface IkeDaemonOptions {
  gateway: Gateway;
  deps: MachineDeps;
  peers: readonly IkePeerConfig[];
  transport: IkeTransport;
  /** Our UDP port for IKE and ESP-in-UDP (default 4500). */
  localPort?: number;
  /** Request retransmission timeouts (RFC 7296 §2.1, exponential); default 0.5, 1, 2, 4, 8 s. */
  retransmitMs?: readonly number[];
  /** Half-open IKE SAs beyond which IKE_SA_INIT must carry a COOKIE (RFC 7296 §2.6); default 32. */
  cookieThreshold?: number;
  /**
   * Make the peer encapsulate ESP in UDP even without a NAT (our data path sends and receives ESP
   * on the UDP port): our NAT_DETECTION_SOURCE_IP hash is one no address gives, as strongSwan's
   * `encap = yes` does (RFC 7296 §2.23). Default true.
   */
  forceEncap?: boolean;
  /** A half-open IKE SA that does not authenticate in this long is forgotten (default 30 s). */
  halfOpenMs?: number;
  /** A liveness check (empty INFORMATIONAL, RFC 7296 §1.4) after this long without a message; 0 = off (default). */
  dpdMs?: number;
  /**
   * A rekey responder sends on its new outbound SA once the initiator sends on the new pair, the
   * old outbound SA goes, or after this long (default 2 s): see `#initiatorInstalled`.
   */
  rekeyResponderHoldMs?: number;
  /**
   * NAT-keepalives (RFC 3948 §4) to the peer of each IKE SA where we are behind a NAT (or
   * pretend to be: `forceEncap`), every this long; default 20 s (the RFC's), 0 = off.
   */
  keepaliveMs?: number;
}

/** What the daemon counts; drops by reason. */
export interface IkeCounters {
  received: number;
  sent: number;
  /** NAT-keepalives sent (RFC 3948 §4). */
  keepalivesSent: number;
  drops: Record<string, number>;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const eqBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const spiBytes = (spi: number) => uintBytes(spi, 4);
const spiNumber = (b: Uint8Array) => (b.length === 4 ? ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 : -1);
const notify = (notifyType: number, data: Uint8Array = new Uint8Array(0), protocol = 0, spi: Uint8Array = new Uint8Array(0)): NotifyPayload => ({ type: 'N', protocol, spi, notifyType, data });
const findNotify = (payloads: readonly IkePayload[], t: number) => payloads.find((p): p is NotifyPayload => p.type === 'N' && p.notifyType === t);
const errorNotify = (payloads: readonly IkePayload[]) => payloads.find((p): p is NotifyPayload => p.type === 'N' && isNotifyError(p.notifyType));
const payloadOf = <K extends IkePayload['type']>(payloads: readonly IkePayload[], type: K) => payloads.find((p) => p.type === type) as (IkePayload & { type: K }) | undefined;
const sameId = (a: IdentityForAuth, b: { idType: number; data: Uint8Array }) => a.idType === b.idType && eqBytes(a.data, b.data);
const addressBytes = (text: string) => {
  const r = parseIpAddress(text);
  if (!r.ok) throw new RangeError(`address ${text}: ${r.rule}`);
  return r.value;
};
const suiteName = (s: IkeSuite) => `encr${s.encr}${s.encrKeyBits ? `-${s.encrKeyBits}` : ''}-integ${s.integ}-prf${s.prf}-dh${s.dh}`;
const childSuiteName = (s: ChildSuite) => `encr${s.encr}${s.encrKeyBits ? `-${s.encrKeyBits}` : ''}-integ${s.integ}${s.esn ? '-esn' : ''}`;

/** A failed negotiation; the message is the reason the acquire records. */
export class IkeNegotiationError extends Error {
  constructor(readonly outcome: string, detail: string) {
    super(`${outcome}: ${detail}`);
    this.name = 'IkeNegotiationError';
  }
}

/** An established (or authenticating) IKE SA of ours. */
interface Conn {
  ikeSaId: string;
  peer: IkePeerConfig;
  session: IkeSession;
  established: boolean;
  /** IKE_SA_INIT nonces and messages, for AUTH (§2.15) and the first CHILD SA's keys (§2.17). */
  ni: Uint8Array;
  nr: Uint8Array;
  initRequest: Uint8Array;
  initResponse: Uint8Array;
  halfOpenTimer?: unknown;
  dpdTimer?: unknown;
  keepaliveTimer?: unknown;
  /** NAT detection (RFC 7296 §2.23) found our address translated: we send NAT-keepalives. */
  behindNat?: boolean;
  /** Its entry in `#initResponses` (a responder's IKE_SA_INIT response, for retransmissions). */
  initKey?: string;
  /** Set once it is rekeyed or deleted: no new children go under it. */
  retiring?: boolean;
}

/** A CHILD SA pair we negotiated, by its outbound SA id. */
interface ChildRecord {
  ikeSaId: string;
  pair: InstalledPair;
  /** Our inbound SPI (the peer sends to it) and the peer's (we send to it). */
  inSpi: number;
  outSpi: number;
}

/** The child the acquire asked for, for IKE_AUTH or CREATE_CHILD_SA. */
interface ChildRequest {
  child: IkeChildConfig;
  out: Policy;
  ids: InstalledPair;
  correlationId: string;
  packet?: AcquireRequest['packet'];
  selectorIndex: number;
  /** A rekey: our inbound SPI of the pair it replaces (REKEY_SA, §1.3.3) and that pair. */
  rekeyOf?: { pair: InstalledPair; inSpi: number };
}

/**
 * @example
 * const ike = new IkeDaemon({ gateway: gw, deps, peers, transport: { send: (m, to, natT) => wire.sendIke(m, to) } });
 * gw.keyManager = ike;
 * wire's onIke: (message, remote) => ike.receive(message, remote, true);
 */
export class IkeDaemon implements KeyManager {
  readonly #o: IkeDaemonOptions;
  readonly #gw: Gateway;
  /** By our IKE SPI (hex). */
  readonly #conns = new Map<string, Conn>();
  readonly #byId = new Map<string, Conn>();
  /** The IKE SA new children of a peer go under, and one being set up. */
  readonly #current = new Map<string, Conn>();
  readonly #connecting = new Map<string, Promise<Conn>>();
  /** Our IKE_SA_INIT requests in flight, by SPIi (hex). */
  readonly #initiating = new Map<string, { onResponse: (bytes: Uint8Array, remote: { address: string; port: number }) => void; cancel: () => void }>();
  /** IKE_SA_INIT responses we sent, by SPIi + peer, for retransmitted requests (§2.1). */
  readonly #initResponses = new Map<string, { bytes: Uint8Array; path: IkePath }>();
  /** The `#initResponses` keys of the responder's IKE SAs that authenticated (their responses are let go). */
  readonly #established = new Set<string>();
  readonly #children = new Map<string, ChildRecord>();
  /** Our CHILD SA rekeys in flight, by the old outbound SA id: the nonces of our exchange. */
  readonly #ourRekeys = new Map<string, { ni?: Uint8Array; nr?: Uint8Array }>();
  /** The peer's rekeys of a CHILD SA we were rekeying too (RFC 7296 §2.8.1), by the old outbound SA id. */
  readonly #peerRekeys = new Map<string, { ni: Uint8Array; nr: Uint8Array; pair: Promise<InstalledPair | undefined> }>();
  readonly #reservedSpis = new Set<number>();
  readonly #cookieSecret: Uint8Array;
  readonly #subscription: Subscription;
  readonly counters: IkeCounters = { received: 0, sent: 0, keepalivesSent: 0, drops: {} };

  constructor(options: IkeDaemonOptions) {
    this.#o = options;
    this.#gw = options.gateway;
    this.#cookieSecret = options.deps.random.bytes(32);
    // An SA that dies here for a reason of ours is deleted at the peer too (RFC 7296 §1.4.1).
    this.#subscription = this.#gw.saFacts$.subscribe(({ saId, fact }) => {
      if (fact.type === 'SaDeleted') this.#saDeleted(saId, (fact.data as { reason: string }).reason);
    });
  }

  get #localPort(): number {
    return this.#o.localPort ?? 4500;
  }

  #drop(reason: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }

  #send(bytes: Uint8Array, path: IkePath): void {
    this.counters.sent++;
    this.#o.transport.send(bytes, path.remote, path.natT);
  }

  #record(ikeSaId: string, exchange: number, messageId: number, requestBy: 'us' | 'peer', outcome: string, detail?: string): void {
    this.#gw.sendIke(ikeSaId, { type: 'ike.exchange', exchange: exchangeName(exchange), messageId, requestBy, outcome, ...(detail !== undefined ? { detail } : {}) });
  }

  #newSpi(peer: IkePeerConfig): number {
    const range = peer.spiRange ?? { min: 0x1000, max: 0xfffffff };
    for (;;) {
      const spi = this.#gw.sad.allocateSpi(range, (n) => this.#o.deps.random.int(0, n - 1));
      if (!this.#reservedSpis.has(spi)) {
        this.#reservedSpis.add(spi);
        return spi;
      }
    }
  }

  #dh(group: number): DhKeyPair {
    for (;;) {
      const key = this.#o.deps.random.bytes(32);
      if (isValidDhPrivateKey(group, key)) return dhKeyPair(group, key);
    }
  }

  #ikeSpi(): Uint8Array {
    for (;;) {
      const spi = this.#o.deps.random.bytes(IKE_SPI_LENGTH);
      if (spi.some((b) => b !== 0) && !this.#conns.has(hex(spi))) return spi;
    }
  }

  #policy(id: string): Policy {
    const p = this.#gw.spd.get(id);
    if (!p?.protect || p.protect.protocol !== 'esp') throw new IkeNegotiationError('config', `policy ${id} is not an ESP PROTECT policy`);
    return p;
  }

  #peerFor(policyId: string): { peer: IkePeerConfig; child: IkeChildConfig } | undefined {
    for (const peer of this.#o.peers) for (const child of peer.children) if (child.outPolicyId === policyId) return { peer, child };
    return undefined;
  }

  // ---------------------------------------------------------------- KeyManager

  async acquire(request: AcquireRequest, signal: AbortSignal): Promise<InstalledPair> {
    signal.throwIfAborted();
    const found = this.#peerFor(request.policyId);
    if (!found) throw new IkeNegotiationError('config', `no IKE connection serves policy ${request.policyId}`);
    const ids = { outboundSaId: this.#o.deps.random.uuid(), inboundSaId: this.#o.deps.random.uuid() };
    const want: ChildRequest = { child: found.child, out: this.#policy(found.child.outPolicyId), ids, correlationId: request.acquireId, packet: request.packet, selectorIndex: request.selectorIndex };
    return this.#withSignal(this.#childFor(found.peer, want), signal);
  }

  /**
   * Starts a peer's IKE SA and its first CHILD SA now (an operator's `initiate`, or
   * `autostartup start`), as an acquire would.
   *
   * @example
   * await ike.initiate('a-to-b');
   */
  async initiate(peerName: string, childName?: string): Promise<InstalledPair> {
    const peer = this.#o.peers.find((p) => p.name === peerName);
    const child = peer?.children.find((c) => childName === undefined || c.name === childName);
    if (!peer || !child) throw new IkeNegotiationError('config', `no connection ${peerName}${childName ? `/${childName}` : ''}`);
    const ids = { outboundSaId: this.#o.deps.random.uuid(), inboundSaId: this.#o.deps.random.uuid() };
    return this.#childFor(peer, { child, out: this.#policy(child.outPolicyId), ids, correlationId: `initiate-${ids.outboundSaId}`, selectorIndex: 0 });
  }

  async rekeyChild(request: { old: InstalledPair; next: InstalledPair; correlationId: string }, signal: AbortSignal): Promise<InstalledPair> {
    signal.throwIfAborted();
    const rec = this.#children.get(request.old.outboundSaId);
    const conn = rec ? this.#byId.get(rec.ikeSaId) : undefined;
    if (!rec || !conn || conn.session.closed) throw new IkeNegotiationError('gone', `the CHILD SA ${request.old.outboundSaId} has no live IKE SA`);
    const policyId = this.#gw.state(request.old.outboundSaId)?.params?.policyId;
    const found = policyId ? this.#peerFor(policyId) : undefined;
    if (!found) throw new IkeNegotiationError('config', `no IKE connection serves the policy of ${request.old.outboundSaId}`);
    const want: ChildRequest = { child: found.child, out: this.#policy(found.child.outPolicyId), ids: request.next, correlationId: request.correlationId, selectorIndex: 0, rekeyOf: { pair: rec.pair, inSpi: rec.inSpi } };
    const old = rec.pair.outboundSaId;
    const mine: { ni?: Uint8Array; nr?: Uint8Array } = {};
    this.#ourRekeys.set(old, mine);
    try {
      const ours = await this.#withSignal(this.#createChild(this.#liveConn(conn), want, mine), signal);
      return await this.#settleCollision(conn, rec.pair, ours, mine, request.correlationId);
    } catch (e) {
      // The peer rekeyed it first and our request found it gone: its new pair replaces the old.
      const theirs = this.#peerRekeys.get(old);
      const pair = theirs ? await theirs.pair : undefined;
      if (pair && e instanceof IkeNegotiationError && e.outcome === 'CHILD_SA_NOT_FOUND') this.#gw.rekeys.adoptComplete(rec.pair, pair, request.correlationId);
      throw e;
    } finally {
      this.#ourRekeys.delete(old);
      this.#peerRekeys.delete(old);
    }
  }

  /**
   * Both peers rekeyed the same CHILD SA at once (RFC 7296 §2.8.1): both exchanges completed and
   * "the SA created with the lowest of the four nonces" is redundant; its creator deletes it. If
   * that is ours, the peer's new pair replaces the old one here and we fail our rekey.
   */
  async #settleCollision(conn: Conn, old: InstalledPair, ours: InstalledPair, mine: { ni?: Uint8Array; nr?: Uint8Array }, correlationId: string): Promise<InstalledPair> {
    const theirs = this.#peerRekeys.get(old.outboundSaId);
    const pair = theirs ? await theirs.pair : undefined;
    if (!theirs || !pair || !mine.ni || !mine.nr) return ours;
    if (rekeyCollisionLoser({ ni: mine.ni, nr: mine.nr }, theirs) === 'second') return ours; // the peer deletes its own
    this.#gw.deleteSa(ours.outboundSaId, 'rekeyCollision');
    this.#gw.deleteSa(ours.inboundSaId, 'rekeyCollision');
    this.#gw.rekeys.adoptComplete(old, pair, correlationId);
    throw new IkeNegotiationError('collision', `the peer rekeyed CHILD SA ${old.outboundSaId} at the same time and its exchange had the higher nonces: its pair ${pair.outboundSaId} replaces it (RFC 7296 §2.8.1)`);
  }

  async rekeyIke(request: { old: string; next: string; correlationId: string }, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const conn = this.#byId.get(request.old);
    if (!conn || conn.session.closed || conn.retiring) throw new IkeNegotiationError('gone', `IKE SA ${request.old} is not live here`);
    await this.#withSignal(this.#rekeyIkeSa(conn, request.next), signal);
  }

  /** Deletes an IKE SA and, with it, its CHILD SAs, telling the peer (RFC 7296 §1.4.1). */
  async deleteIkeSa(ikeSaId: string, reason = 'operator'): Promise<void> {
    const conn = this.#byId.get(ikeSaId);
    if (!conn) return;
    conn.retiring = true;
    try {
      await conn.session.request(IKE_EXCHANGE.INFORMATIONAL, [{ type: 'D', protocol: IKE_PROTOCOL.IKE, spis: [] }]);
    } catch {
      // §2.4: no answer is an answer too; the IKE SA goes anyway.
    }
    this.#closeConn(conn, reason);
  }

  /**
   * Takes back an IKE SA a previous process established (after a restart): its SPIs, role and
   * suite from `IkeSaEstablished`, its Message IDs from the exchanges it recorded (RFC 7296 §2.2),
   * its keys from the key store, its CHILD SAs from the gateway. Says why when it cannot (keys
   * gone with an in-memory key store, the peer no longer configured, facts from before these
   * fields); the caller then ends it.
   *
   * @example
   * const r = await ike.rehydrate(id); if (!r.ok) gateway.sendIke(id, { type: 'ike.delete', reason: 'restart' });
   */
  async rehydrate(ikeSaId: string): Promise<{ ok: true } | { ok: false; why: string }> {
    const facts = (await this.#o.deps.log.read(`ike-${ikeSaId}`)) as IkeFact[];
    const state = facts.reduce(evolveIkeSa, initialIkeSaState);
    if (state.status !== 'established') return { ok: false, why: `it is ${state.status}` };
    const est = [...facts].reverse().find((f) => f.type === 'IkeSaEstablished')?.data as { spiI?: string; spiR?: string; role?: 'initiator' | 'responder'; suite?: string; peer?: string } | undefined;
    if (!est?.spiI || !est.spiR || !est.role || !est.suite) return { ok: false, why: 'its IkeSaEstablished predates SPIs, role and suite in the fact' };
    const peer = this.#o.peers.find((p) => p.remote.address === (est.peer ?? state.peer));
    if (!peer) return { ok: false, why: `no IKE connection to ${est.peer ?? state.peer} in the policy file now` };
    const suite = peer.ikeSuites.find((x) => suiteName(x) === est.suite);
    if (!suite) return { ok: false, why: `its suite ${est.suite} is no longer among connection ${peer.name}'s proposals` };
    let keys: IkeSaKeys;
    try {
      keys = (await this.#gw.ikeKeys(ikeSaId)) as unknown as IkeSaKeys;
    } catch (e) {
      return { ok: false, why: `its keys are gone (${(e as Error).message})` };
    }
    const ids = state.messageIds ?? { nextOut: 0, nextIn: 0 };
    const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
    const path: IkePath = { remote: { address: peer.remote.address, port: peer.remote.port ?? 4500 }, natT: true };
    const empty = new Uint8Array(0);
    const conn: Conn = { ikeSaId, peer, established: true, ni: empty, nr: empty, initRequest: empty, initResponse: empty, session: this.#session(ikeSaId, est.role === 'initiator', bytes(est.spiI), bytes(est.spiR), suite, keys, path, ids.nextOut, ids.nextIn) };
    this.#register(conn);
    this.#current.set(peer.name, conn);
    this.#armDpd(conn);
    this.#armKeepalive(conn);
    // Its CHILD SAs, by pair: the SPIs each side sends to.
    for (const id of state.children) {
      const p = this.#gw.state(id)?.params;
      if (p?.direction !== 'outbound' || !p.pairedSaId || !this.#isLive(id)) continue;
      const inbound = this.#gw.state(p.pairedSaId)?.params;
      if (!inbound) continue;
      const rec: ChildRecord = { ikeSaId, pair: { outboundSaId: id, inboundSaId: p.pairedSaId }, inSpi: inbound.spi, outSpi: p.spi };
      this.#children.set(id, rec);
      this.#children.set(p.pairedSaId, rec);
    }
    return { ok: true };
  }

  /** Stops timers and retransmissions (the gateway's SAs stay as they are). */
  stop(): void {
    this.#subscription.unsubscribe();
    for (const i of [...this.#initiating.values()]) i.cancel();
    for (const c of [...this.#byId.values()]) this.#stopConn(c);
  }

  /** The live IKE SAs, for status views. */
  list(): Array<{ ikeSaId: string; peer: string; spiI: string; spiR: string; established: boolean; role: 'initiator' | 'responder'; remote: string }> {
    return [...this.#byId.values()].map((c) => ({ ikeSaId: c.ikeSaId, peer: c.peer.name, spiI: hex(c.session.spiI), spiR: hex(c.session.spiR), established: c.established, role: c.session.originalInitiator ? 'initiator' : 'responder', remote: `${c.session.path.remote.address}:${c.session.path.remote.port}` }));
  }

  #withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  #liveConn(conn: Conn): Conn {
    // An IKE SA rekeyed meanwhile: its successor carries the request.
    const current = this.#current.get(conn.peer.name);
    return conn.retiring && current && !current.retiring ? current : conn;
  }

  async #childFor(peer: IkePeerConfig, want: ChildRequest): Promise<InstalledPair> {
    const current = this.#current.get(peer.name);
    if (current && current.established && !current.retiring && !current.session.closed) return this.#createChild(current, want);
    let connecting = this.#connecting.get(peer.name);
    if (!connecting) {
      // The first child rides in IKE_AUTH (RFC 7296 §1.2); the others wait for the IKE SA.
      let resolveFirst!: (pair: InstalledPair) => void;
      let rejectFirst!: (e: unknown) => void;
      const first = new Promise<InstalledPair>((res, rej) => { resolveFirst = res; rejectFirst = rej; });
      connecting = this.#connect(peer, want, (pair) => resolveFirst(pair), (e) => rejectFirst(e));
      this.#connecting.set(peer.name, connecting);
      connecting.then(() => this.#connecting.delete(peer.name), (e: unknown) => { this.#connecting.delete(peer.name); rejectFirst(e); });
      return first;
    }
    return this.#createChild(await connecting, want);
  }

  // ---------------------------------------------------------------- IKE_SA_INIT + IKE_AUTH, initiator

  async #connect(peer: IkePeerConfig, want: ChildRequest, childDone: (pair: InstalledPair) => void, childFailed: (e: unknown) => void): Promise<Conn> {
    const { random } = this.#o.deps;
    const ikeSaId = random.uuid();
    const spiI = this.#ikeSpi();
    const path: IkePath = { remote: { address: peer.remote.address, port: peer.remote.port ?? 4500 }, natT: (peer.remote.port ?? 4500) !== 500 };
    const ni = random.bytes(32);
    this.#gw.initiateIkeSa(ikeSaId, { role: 'initiator', peer: peer.remote.address, spiI: hex(spiI) });
    let group: number = peer.ikeSuites[0]!.dh;
    let cookie: Uint8Array | undefined;
    let attempts = 0;
    for (;;) {
      const dh = this.#dh(group);
      const zero = new Uint8Array(IKE_SPI_LENGTH);
      const header: IkeHeader = { spiI, spiR: zero, minorVersion: 0, exchangeType: IKE_EXCHANGE.IKE_SA_INIT, initiator: true, response: false, messageId: 0 };
      const payloads: IkePayload[] = [
        // §2.6: the COOKIE notify goes first.
        ...(cookie ? [notify(NOTIFY_TYPE.COOKIE, cookie)] : []),
        ikeSaPayload(peer.ikeSuites, new Uint8Array(0)),
        { type: 'KE', group, data: dh.publicValue },
        { type: 'Nonce', data: ni },
        ...this.#natdNotifies({ spiI, spiR: zero }, peer.local.address, path.remote),
      ];
      const request = encodeIkeMessage({ header, payloads });
      let response: { bytes: Uint8Array; remote: { address: string; port: number } };
      try {
        response = await this.#initExchange(spiI, request, path);
      } catch (e) {
        this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'us', 'timeout', String((e as Error).message));
        this.#gw.sendIke(ikeSaId, { type: 'ike.delete', reason: 'timeout' });
        throw new IkeNegotiationError('timeout', `${peer.remote.address} did not answer IKE_SA_INIT`);
      }
      const d = decodeIkeMessage(response.bytes);
      if (!d.ok) throw new IkeNegotiationError('malformed', d.detail);
      const rp = d.message.payloads;
      const cookieN = findNotify(rp, NOTIFY_TYPE.COOKIE);
      const invalidKe = findNotify(rp, NOTIFY_TYPE.INVALID_KE_PAYLOAD);
      if (cookieN && attempts++ < 3) {
        // §2.6: send the request again with the cookie.
        cookie = Uint8Array.from(cookieN.data);
        this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'us', 'COOKIE', 'retrying with the cookie');
        continue;
      }
      if (invalidKe && invalidKe.data.length === 2 && attempts++ < 3) {
        // §1.3 / §3.10.1: the responder wants another group; retry with it if we offer it.
        const wanted = (invalidKe.data[0]! << 8) | invalidKe.data[1]!;
        if (peer.ikeSuites.some((s) => s.dh === wanted) && wanted !== group) {
          this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'us', 'INVALID_KE_PAYLOAD', `retrying with group ${wanted}`);
          group = wanted;
          continue;
        }
      }
      const err = errorNotify(rp);
      if (err) return this.#initFailed(ikeSaId, notifyTypeName(err.notifyType), `${peer.remote.address} refused IKE_SA_INIT`);
      const sa = payloadOf(rp, 'SA');
      const ke = payloadOf(rp, 'KE');
      const nonce = payloadOf(rp, 'Nonce');
      const accepted = sa ? acceptedIkeSuite(sa, peer.ikeSuites) : undefined;
      if (!sa || !ke || !nonce || !accepted) return this.#initFailed(ikeSaId, 'NO_PROPOSAL_CHOSEN', 'the IKE_SA_INIT response lacks SA, KE or Nonce, or chose a suite we did not offer');
      if (ke.group !== accepted.suite.dh || ke.group !== group) return this.#initFailed(ikeSaId, 'INVALID_KE_PAYLOAD', `KE group ${ke.group} is not the chosen ${accepted.suite.dh}`);
      const shared = dhSharedSecret(group, dh.privateKey, ke.data);
      if (!shared.ok) return this.#initFailed(ikeSaId, 'INVALID_SYNTAX', `the peer's KE: ${shared.detail}`);
      const spiR = Uint8Array.from(d.message.header.spiR);
      const keys = deriveIkeSaKeys({ transforms: accepted.suite, ni, nr: nonce.data, sharedSecret: shared.sharedSecret, spiI, spiR });
      const nat = detectNat({ spiI, spiR: new Uint8Array(IKE_SPI_LENGTH) }, rp, { address: addressBytes(response.remote.address), port: response.remote.port }, { address: addressBytes(peer.local.address), port: this.#localPort });
      this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'us', 'ok', `${suiteName(accepted.suite)} spiR=${hex(spiR)}${nat.peerBehindNat || nat.selfBehindNat ? ' NAT detected' : ''}`);
      // §2.23: with a NAT (or our forced encapsulation), IKE moves to port 4500.
      const natPath: IkePath = path.natT ? path : { remote: { address: path.remote.address, port: 4500 }, natT: true };
      const conn: Conn = { ikeSaId, peer, established: false, behindNat: nat.selfBehindNat || (this.#o.forceEncap ?? true), ni, nr: Uint8Array.from(nonce.data), initRequest: request, initResponse: Uint8Array.from(response.bytes), session: this.#session(ikeSaId, true, spiI, spiR, accepted.suite, keys, natPath, 1, 0) };
      this.#register(conn);
      this.#current.set(peer.name, conn);
      await this.#authenticate(conn, keys, want, childDone, childFailed);
      return conn;
    }
  }

  #initFailed(ikeSaId: string, outcome: string, detail: string): never {
    this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'us', outcome, detail);
    this.#gw.sendIke(ikeSaId, { type: 'ike.delete', reason: outcome });
    throw new IkeNegotiationError(outcome, detail);
  }

  /** Sends our IKE_SA_INIT and its retransmissions until a response for SPIi arrives. */
  #initExchange(spiI: Uint8Array, request: Uint8Array, path: IkePath): Promise<{ bytes: Uint8Array; remote: { address: string; port: number } }> {
    const { clock } = this.#o.deps;
    const waits = this.#o.retransmitMs ?? [500, 1000, 2000, 4000, 8000];
    return new Promise((resolve, reject) => {
      let attempt = 0;
      let timer: unknown;
      const key = hex(spiI);
      const fire = () => {
        this.#send(request, path);
        timer = clock.setTimeout(() => {
          if (++attempt >= waits.length) {
            this.#initiating.delete(key);
            reject(new IkeTimeout(IKE_EXCHANGE.IKE_SA_INIT, 0));
          } else fire();
        }, waits[attempt] ?? 0);
      };
      this.#initiating.set(key, {
        onResponse: (bytes, remote) => {
          clock.clearTimeout(timer);
          this.#initiating.delete(key);
          resolve({ bytes, remote });
        },
        cancel: () => {
          clock.clearTimeout(timer);
          this.#initiating.delete(key);
          reject(new IkeNegotiationError('stopped', 'the IKE daemon stopped'));
        },
      });
      fire();
    });
  }

  #natdNotifies(spis: { spiI: Uint8Array; spiR: Uint8Array }, localAddress: string, remote: { address: string; port: number }): IkePayload[] {
    const [src, dst] = natDetectionNotifies(spis, { address: addressBytes(localAddress), port: this.#localPort }, { address: addressBytes(remote.address), port: remote.port });
    // Forced encapsulation: a source hash no address gives, so the peer sees "a NAT" (§2.23).
    if (this.#o.forceEncap ?? true) src.data = natDetectionHash(spis, { address: new Uint8Array(4), port: 0 });
    return [src, dst];
  }

  #session(id: string, originalInitiator: boolean, spiI: Uint8Array, spiR: Uint8Array, suite: IkeSuite, keys: IkeSaKeys, path: IkePath, nextRequestId: number, nextPeerRequestId: number): IkeSession {
    const { clock, random } = this.#o.deps;
    return new IkeSession({ id, originalInitiator, spiI, spiR, suite, keys, path, clock, random, send: (b, p) => this.#send(b, p), onDrop: (r) => this.#drop(r), nextRequestId, nextPeerRequestId, ...(this.#o.retransmitMs ? { retransmitMs: this.#o.retransmitMs } : {}) });
  }

  #register(conn: Conn): void {
    this.#conns.set(hex(conn.session.localSpi), conn);
    this.#byId.set(conn.ikeSaId, conn);
  }

  async #authenticate(conn: Conn, keys: IkeSaKeys, want: ChildRequest, childDone: (pair: InstalledPair) => void, childFailed: (e: unknown) => void): Promise<void> {
    const { peer, session } = conn;
    const prf = session.prf;
    const octets = signedOctets({ realMessage: conn.initRequest, peerNonce: conn.nr, prf, skP: keys.skPi, id: peer.local.id });
    const inSpi = this.#newSpi(peer);
    const offer = this.#childOffer(want, inSpi);
    // §2.4: INITIAL_CONTACT only when this is our one IKE SA with the peer (a restart, a first
    // contact): the responder deletes every other IKE SA it has with us on seeing it, so one still
    // connecting, or being deleted (its DELETE in flight), counts as another.
    // Between the same identities, whichever connection entry names them (§2.4 speaks of the
    // authenticated identities, not of configuration).
    const samePair = (c: Conn) => c.peer === peer || (c.peer.remote.address === peer.remote.address && sameId(c.peer.remote.id, peer.remote.id) && sameId(c.peer.local.id, peer.local.id));
    const alone = ![...this.#byId.values()].some((c) => c !== conn && samePair(c) && !c.session.closed);
    const payloads: IkePayload[] = [
      { type: 'IDi', idType: peer.local.id.idType, data: peer.local.id.data },
      ...(alone ? [notify(NOTIFY_TYPE.INITIAL_CONTACT)] : []),
      { type: 'IDr', idType: peer.remote.id.idType, data: peer.remote.id.data },
      { type: 'AUTH', method: 2, data: pskAuth(prf, peer.psk, octets) },
      offer.sa,
      { type: 'TSi', selectors: offer.tsi },
      { type: 'TSr', selectors: offer.tsr },
    ];
    let reply: IkePayload[];
    try {
      reply = await session.request(IKE_EXCHANGE.IKE_AUTH, payloads);
    } catch (e) {
      this.#reservedSpis.delete(inSpi);
      this.#record(conn.ikeSaId, IKE_EXCHANGE.IKE_AUTH, 1, 'us', 'timeout', (e as Error).message);
      this.#closeConn(conn, 'timeout');
      throw new IkeNegotiationError('timeout', `${peer.remote.address} did not answer IKE_AUTH`);
    }
    const idr = payloadOf(reply, 'IDr');
    const auth = payloadOf(reply, 'AUTH');
    const refused = errorNotify(reply);
    const authOk = idr && auth && auth.method === 2 && sameId(peer.remote.id, idr) &&
      verifyPskAuth(prf, peer.psk, signedOctets({ realMessage: conn.initResponse, peerNonce: conn.ni, prf, skP: keys.skPr, id: { idType: idr.idType, data: idr.data } }), auth.data);
    if (!authOk) {
      this.#reservedSpis.delete(inSpi);
      const outcome = refused ? notifyTypeName(refused.notifyType) : 'AUTHENTICATION_FAILED';
      const detail = refused ? `${peer.remote.address} refused our IKE_AUTH` : `${peer.remote.address} did not prove ${idr ? 'its identity' : 'an identity'} with the pre-shared key`;
      this.#record(conn.ikeSaId, IKE_EXCHANGE.IKE_AUTH, 1, 'us', outcome, detail);
      this.#closeConn(conn, outcome);
      throw new IkeNegotiationError(outcome, detail);
    }
    conn.established = true;
    await this.#establish(conn, 'initiator');
    this.#armDpd(conn);
    this.#armKeepalive(conn);
    // The CHILD SA of IKE_AUTH: refused on its own (the IKE SA stays, §1.2), or installed.
    try {
      const pair = await this.#childResponse(conn, want, offer, inSpi, reply, IKE_EXCHANGE.IKE_AUTH, 1, { ni: conn.ni, nr: conn.nr });
      childDone(pair);
    } catch (e) {
      childFailed(e);
    }
  }

  #childOffer(want: ChildRequest, inSpi: number, dh?: DhGroupId): { sa: SaPayload; tsi: AddressRangeSelector[]; tsr: AddressRangeSelector[]; suites: readonly EspSuiteSpec[]; esn: boolean } {
    const protect = want.out.protect!;
    if (protect.protocol !== 'esp') throw new IkeNegotiationError('config', `policy ${want.out.id} is not ESP`);
    const sel = want.out.selectors[want.selectorIndex] ?? want.out.selectors[0]!;
    const ts = selectorToTs(sel);
    if (!ts) throw new IkeNegotiationError('config', `policy ${want.out.id} has a selector IKE cannot carry`);
    const tsi: AddressRangeSelector[] = [ts.local];
    const tsr: AddressRangeSelector[] = [ts.remote];
    const p = want.packet;
    if (p && !want.rekeyOf) {
      // §2.9.2: the packet that triggered the request goes first, so the responder can narrow to it.
      const a = parseIpAddress(p.localAddress);
      const b = parseIpAddress(p.remoteAddress);
      if (a.ok && b.ok && a.value.length === ts.local.startAddress.length) {
        const proto = p.protocol >= 0 ? p.protocol : 0;
        tsi.unshift({ tsType: ts.local.tsType, ipProtocol: proto, startPort: p.localPort >= 0 ? p.localPort : 0, endPort: p.localPort >= 0 ? p.localPort : 65535, startAddress: a.value, endAddress: a.value });
        tsr.unshift({ tsType: ts.remote.tsType, ipProtocol: proto, startPort: p.remotePort >= 0 ? p.remotePort : 0, endPort: p.remotePort >= 0 ? p.remotePort : 65535, startAddress: b.value, endAddress: b.value });
      }
    }
    const suites = protect.proposals;
    const esn = protect.esn;
    const sa = childSaPayload(suites.map((s) => ({ ...s, esn, ...(dh !== undefined ? { dh } : {}) })), spiBytes(inSpi));
    return { sa, tsi, tsr, suites, esn };
  }

  /** The initiator reads a CHILD SA response (IKE_AUTH or CREATE_CHILD_SA) and installs the pair. */
  async #childResponse(conn: Conn, want: ChildRequest, offer: { suites: readonly EspSuiteSpec[]; esn: boolean }, inSpi: number, reply: IkePayload[], exchange: number, messageId: number, nonces: { ni: Uint8Array; nr: Uint8Array; sharedSecret?: Uint8Array }, dh?: DhGroupId): Promise<InstalledPair> {
    const refused = errorNotify(reply);
    const sa = payloadOf(reply, 'SA');
    const accepted = sa ? acceptedChildSuite(sa, offer.suites, { esn: offer.esn, ...(dh !== undefined ? { dh } : {}) }) : undefined;
    if (refused || !accepted || accepted.spi.length !== 4) {
      this.#reservedSpis.delete(inSpi);
      const outcome = refused ? notifyTypeName(refused.notifyType) : 'NO_PROPOSAL_CHOSEN';
      this.#record(conn.ikeSaId, exchange, messageId, 'us', outcome, `CHILD SA for ${want.child.name} not created`);
      throw new IkeNegotiationError(outcome, `${conn.peer.remote.address} did not create the CHILD SA for ${want.child.name}`);
    }
    const tsi = payloadOf(reply, 'TSi')?.selectors ?? [];
    const tsr = payloadOf(reply, 'TSr')?.selectors ?? [];
    const keys = deriveChildSaKeys({ prf: conn.session.suite.prf, skD: conn.session.keys.skD, ni: nonces.ni, nr: nonces.nr, ...(nonces.sharedSecret ? { sharedSecret: nonces.sharedSecret } : {}), transforms: { protocol: 'esp', encr: accepted.suite.encr, ...(accepted.suite.encrKeyBits !== undefined ? { encrKeyBits: accepted.suite.encrKeyBits } : {}), integ: accepted.suite.integ } });
    const outSpi = spiNumber(accepted.spi);
    await this.#installPair(conn, want, accepted.suite, keys, true, inSpi, outSpi);
    this.#record(conn.ikeSaId, exchange, messageId, 'us', 'ok', `${want.rekeyOf ? 'rekeyed' : 'created'} CHILD SA ${want.child.name} ${childSuiteName(accepted.suite)} in=${inSpi.toString(16)} out=${outSpi.toString(16)} TSi=${tsi.map(formatTs).join(',')} TSr=${tsr.map(formatTs).join(',')}`);
    return want.ids;
  }

  /**
   * Installs a CHILD SA pair, the inbound SA first. With `outboundAfter` (a rekey responder) the
   * outbound SA waits for it, so we do not send on an SA the initiator has not installed yet.
   */
  async #installPair(conn: Conn, want: ChildRequest, suite: ChildSuite, keys: ChildSaKeys, weInitiated: boolean, inSpi: number, outSpi: number, outboundAfter?: Promise<unknown>): Promise<{ outbound: Promise<void> }> {
    const protect = want.out.protect!;
    const { peer, session } = conn;
    const local = peer.local.address;
    const remote = session.path.remote;
    // §2.17: KEYMAT gives the initiator→responder SA its keys first.
    const outKeys: EspKeys = weInitiated ? keys.initiatorToResponder : keys.responderToInitiator;
    const inKeys: EspKeys = weInitiated ? keys.responderToInitiator : keys.initiatorToResponder;
    const tunnelOut = protect.mode === 'tunnel' ? (protect.tunnel ? { src: formatIpAddress(protect.tunnel.src), dst: formatIpAddress(protect.tunnel.dst) } : { src: local, dst: remote.address }) : undefined;
    const base = {
      protocol: 'esp' as const, mode: protect.mode, encr: suite.encr, ...(suite.encrKeyBits !== undefined ? { encrKeyBits: suite.encrKeyBits } : {}), integ: suite.integ,
      esn: suite.esn, replayWindow: protect.replayWindow, lifetimes: protect.lifetimes, ikeSaId: conn.ikeSaId,
    };
    this.#children.set(want.ids.outboundSaId, { ikeSaId: conn.ikeSaId, pair: want.ids, inSpi, outSpi });
    this.#children.set(want.ids.inboundSaId, { ikeSaId: conn.ikeSaId, pair: want.ids, inSpi, outSpi });
    const installOutbound = () => this.#gw.installSa({ id: want.ids.outboundSaId, keys: outKeys, correlationId: want.correlationId, params: { ...base, spi: outSpi, direction: 'outbound', dst: remote.address, policyId: want.child.outPolicyId, pairedSaId: want.ids.inboundSaId, ...(tunnelOut ? { tunnel: tunnelOut } : {}), natT: { srcPort: this.#localPort, dstPort: remote.port } } });
    try {
      await this.#gw.installSa({ id: want.ids.inboundSaId, keys: inKeys, correlationId: want.correlationId, params: { ...base, spi: inSpi, direction: 'inbound', dst: local, policyId: want.child.inPolicyId, pairedSaId: want.ids.outboundSaId, ...(tunnelOut ? { tunnel: { src: tunnelOut.dst, dst: tunnelOut.src } } : {}), natT: { srcPort: remote.port, dstPort: this.#localPort } } });
      if (outboundAfter === undefined) {
        await installOutbound();
        this.#orphaned(conn, want.ids);
        return { outbound: Promise.resolve() };
      }
    } finally {
      this.#reservedSpis.delete(inSpi);
    }
    this.#orphaned(conn, want.ids);
    // The inbound SA may die first (the peer deletes it, its IKE SA goes): then no outbound at all.
    const outbound = outboundAfter.then(() => (this.#isLive(want.ids.inboundSaId) ? installOutbound() : undefined));
    return { outbound };
  }

  /** Its IKE SA closed while the pair was being installed (INITIAL_CONTACT, a DELETE): the pair goes too (§1.4.1). */
  #orphaned(conn: Conn, pair: InstalledPair): void {
    if (!conn.session.closed) return;
    for (const id of [pair.inboundSaId, pair.outboundSaId]) if (this.#isLive(id)) this.#gw.deleteSa(id, 'ikeSaDeleted');
  }

  /**
   * A rekey responder's cue to send on the new SA (RFC 7296 §2.8; strongSwan waits the same way):
   * the first packet on the new inbound SA, the old outbound SA leaving, or `holdMs`.
   */
  #initiatorInstalled(newInboundSaId: string, oldOutboundSaId: string): Promise<void> {
    const { clock } = this.#o.deps;
    return new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => done(), this.#o.rekeyResponderHoldMs ?? 2_000);
      const sub = this.#gw.saFacts$.subscribe(({ saId, fact }) => {
        if (saId === oldOutboundSaId && (fact.type === 'SaDeleted' || fact.type === 'SaHardExpired')) done();
      });
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        clock.clearTimeout(timer);
        sub.unsubscribe();
        resolve();
      };
      void this.#gw.firstPacket(newInboundSaId).then(done);
      if (!this.#isLive(oldOutboundSaId)) done();
    });
  }

  // ---------------------------------------------------------------- CREATE_CHILD_SA, initiator

  async #createChild(conn: Conn, want: ChildRequest, nonces?: { ni?: Uint8Array; nr?: Uint8Array }): Promise<InstalledPair> {
    const { random } = this.#o.deps;
    const inSpi = this.#newSpi(conn.peer);
    const ni = random.bytes(32);
    if (nonces) nonces.ni = ni;
    const offer = this.#childOffer(want, inSpi);
    const payloads: IkePayload[] = [
      // §1.3.3: REKEY_SA names the SA being rekeyed by our inbound SPI.
      ...(want.rekeyOf ? [notify(NOTIFY_TYPE.REKEY_SA, new Uint8Array(0), IKE_PROTOCOL.ESP, spiBytes(want.rekeyOf.inSpi))] : []),
      offer.sa,
      { type: 'Nonce', data: ni },
      { type: 'TSi', selectors: offer.tsi },
      { type: 'TSr', selectors: offer.tsr },
    ];
    const messageId = conn.session.nextRequestId;
    let reply: IkePayload[];
    try {
      reply = await conn.session.request(IKE_EXCHANGE.CREATE_CHILD_SA, payloads);
    } catch (e) {
      this.#reservedSpis.delete(inSpi);
      this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'us', 'timeout', (e as Error).message);
      if (e instanceof IkeTimeout) this.#closeConn(conn, 'timeout');
      throw new IkeNegotiationError('timeout', `${conn.peer.remote.address} did not answer CREATE_CHILD_SA`);
    }
    const nr = payloadOf(reply, 'Nonce');
    if (!nr && !errorNotify(reply)) {
      this.#reservedSpis.delete(inSpi);
      this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'us', 'INVALID_SYNTAX', 'no Nonce in the response');
      throw new IkeNegotiationError('INVALID_SYNTAX', 'no Nonce in the CREATE_CHILD_SA response');
    }
    if (nonces && nr) nonces.nr = nr.data;
    return this.#childResponse(conn, want, offer, inSpi, reply, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, { ni, nr: nr?.data ?? ni });
  }

  async #rekeyIkeSa(old: Conn, nextId: string): Promise<void> {
    const { random } = this.#o.deps;
    const spiI = this.#ikeSpi();
    const ni = random.bytes(32);
    const suite = old.session.suite;
    const dh = this.#dh(suite.dh);
    const messageId = old.session.nextRequestId;
    let reply: IkePayload[];
    try {
      // §1.3.2: SA (with our new SPI), Ni, KEi.
      reply = await old.session.request(IKE_EXCHANGE.CREATE_CHILD_SA, [ikeSaPayload([suite, ...old.peer.ikeSuites.filter((s) => suiteName(s) !== suiteName(suite))], spiI), { type: 'Nonce', data: ni }, { type: 'KE', group: suite.dh, data: dh.publicValue }]);
    } catch (e) {
      this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'us', 'timeout', (e as Error).message);
      throw new IkeNegotiationError('timeout', 'no answer to the IKE SA rekey');
    }
    const refused = errorNotify(reply);
    const sa = payloadOf(reply, 'SA');
    const ke = payloadOf(reply, 'KE');
    const nr = payloadOf(reply, 'Nonce');
    const accepted = sa ? acceptedIkeSuite(sa, [suite, ...old.peer.ikeSuites]) : undefined;
    if (refused || !accepted || !ke || !nr || accepted.spi.length !== IKE_SPI_LENGTH || ke.group !== accepted.suite.dh) {
      const outcome = refused ? notifyTypeName(refused.notifyType) : 'NO_PROPOSAL_CHOSEN';
      this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'us', outcome, 'IKE SA rekey refused');
      throw new IkeNegotiationError(outcome, 'the peer refused the IKE SA rekey');
    }
    const myDh = accepted.suite.dh === dh.group ? dh : undefined;
    const shared = myDh ? dhSharedSecret(myDh.group, myDh.privateKey, ke.data) : undefined;
    if (!shared?.ok) throw new IkeNegotiationError('INVALID_KE_PAYLOAD', 'the rekey response KE does not fit');
    const spiR = Uint8Array.from(accepted.spi);
    const keys = deriveRekeyedIkeSaKeys({ oldPrf: suite.prf, oldSkD: old.session.keys.skD, transforms: accepted.suite, ni, nr: nr.data, sharedSecret: shared.sharedSecret, spiI, spiR });
    this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'us', 'ok', `rekeyed IKE SA into ${nextId} ${suiteName(accepted.suite)}`);
    // §2.18: the rekey's initiator is the new IKE SA's original initiator.
    const next: Conn = { ikeSaId: nextId, peer: old.peer, established: true, ni, nr: Uint8Array.from(nr.data), initRequest: old.initRequest, initResponse: old.initResponse, session: this.#session(nextId, true, spiI, spiR, accepted.suite, keys, old.session.path, 0, 0) };
    await this.#adoptIkeRekey(old, next, 'initiator');
    // §1.3.2: the initiator of the rekey deletes the old IKE SA.
    void old.session.request(IKE_EXCHANGE.INFORMATIONAL, [{ type: 'D', protocol: IKE_PROTOCOL.IKE, spis: [] }]).catch(() => undefined).finally(() => this.#stopConn(old));
  }

  /** `IkeSaEstablished` (keys to the key store) for an IKE SA that authenticated, or one that replaced `rekeyOf`. */
  #establish(conn: Conn, role: 'initiator' | 'responder', rekeyOf?: string): Promise<void> {
    const { peer, session } = conn;
    const life = peer.ikeLifetimes;
    return this.#gw.establishIkeSa({
      id: conn.ikeSaId, peer: session.path.remote.address, keys: { ...session.keys }, spiI: hex(session.spiI), spiR: hex(session.spiR), role, suite: suiteName(session.suite),
      ...(rekeyOf !== undefined ? { rekeyOf } : {}),
      ...(life?.softMs !== undefined ? { softLifetimeMs: life.softMs } : {}), ...(life?.hardMs !== undefined ? { hardLifetimeMs: life.hardMs } : {}),
    });
  }

  async #adoptIkeRekey(old: Conn, next: Conn, role: 'initiator' | 'responder'): Promise<void> {
    old.retiring = true;
    this.#register(next);
    this.#current.set(old.peer.name, next);
    for (const rec of this.#children.values()) if (rec.ikeSaId === old.ikeSaId) rec.ikeSaId = next.ikeSaId;
    await this.#establish(next, role, old.ikeSaId);
    this.#armDpd(next);
    this.#armKeepalive(next);
    // The responder's lifecycle records the rekey it did not start; the initiator's completes its own.
    if (role === 'responder') this.#gw.sendIke(old.ikeSaId, { type: 'ike.adoptRekey', newIkeSaId: next.ikeSaId });
  }

  // ---------------------------------------------------------------- receiving

  /**
   * An IKE datagram from `remote` (the non-ESP marker removed when `natT`). Never throws: what
   * cannot be used is counted in `counters.drops` by reason.
   *
   * @example
   * wire = udpWire({ bind, onIke: (m, remote) => ike.receive(m, remote, true), ... });
   */
  receive(bytes: Uint8Array, remote: { address: string; port: number }, natT: boolean): void {
    this.counters.received++;
    try {
      this.#receive(bytes, remote, natT);
    } catch (e) {
      this.#drop(`error:${(e as Error).name}`);
    }
  }

  #receive(bytes: Uint8Array, remote: { address: string; port: number }, natT: boolean): void {
    const h = decodeIkeHeader(bytes);
    const path: IkePath = { remote: { ...remote }, natT };
    if (!h.ok) {
      // §2.5: a higher major version: "MUST drop the message and SHOULD send an unauthenticated
      // Notify message response containing the INVALID_MAJOR_VERSION" (§1.5: SPIs and Message ID
      // copied; never in answer to a response).
      if (h.reason === 'invalidMajorVersion' && h.header && !h.header.response && bytes[17]! >> 4 > 2) {
        const { spiI, spiR, messageId, initiator } = h.header;
        this.#send(encodeIkeMessage({ header: { spiI, spiR, minorVersion: 0, exchangeType: IKE_EXCHANGE.INFORMATIONAL, initiator: !initiator, response: true, messageId }, payloads: [notify(NOTIFY_TYPE.INVALID_MAJOR_VERSION)] }), path);
      }
      return this.#drop(h.reason);
    }
    const header = h.header;
    if (header.exchangeType === IKE_EXCHANGE.IKE_SA_INIT) {
      if (header.response) {
        const waiting = this.#initiating.get(hex(header.spiI));
        if (!waiting || header.initiator) return this.#drop('unexpectedInitResponse');
        return waiting.onResponse(Uint8Array.from(bytes), remote);
      }
      return this.#onInitRequest(Uint8Array.from(bytes), path);
    }
    // §2.2: the SPI that names us is SPIr when the original initiator sent it, else SPIi.
    const conn = this.#conns.get(hex(header.initiator ? header.spiR : header.spiI));
    if (!conn) return this.#drop('unknownIkeSpi');
    const r = conn.session.receive(bytes, path);
    if (!r) return;
    void this.#onRequest(conn, r.request).catch(() => this.#drop('requestFailed'));
  }

  async #onRequest(conn: Conn, request: IkeMessage): Promise<void> {
    const { exchangeType } = request.header;
    if (!conn.established) {
      if (exchangeType === IKE_EXCHANGE.IKE_AUTH && !conn.session.originalInitiator) return this.#onAuthRequest(conn, request);
      return this.#drop('notEstablished');
    }
    if (exchangeType === IKE_EXCHANGE.INFORMATIONAL) return this.#onInformational(conn, request);
    if (exchangeType === IKE_EXCHANGE.CREATE_CHILD_SA) return this.#onCreateChild(conn, request);
    conn.session.respond(request, [notify(NOTIFY_TYPE.INVALID_SYNTAX)]);
  }

  // ---------------------------------------------------------------- responder

  #cookieFor(spiI: Uint8Array, ni: Uint8Array, remote: { address: string; port: number }): Uint8Array {
    // §2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>).
    const prf = createPrf(5);
    return concatBytes([Uint8Array.of(1), prf.compute(this.#cookieSecret, concatBytes([ni, addressBytes(remote.address), spiI])).subarray(0, 16)]);
  }

  #halfOpen(): number {
    let n = 0;
    for (const c of this.#byId.values()) if (!c.established && !c.session.originalInitiator) n++;
    return n;
  }

  #onInitRequest(bytes: Uint8Array, path: IkePath): void {
    const d = decodeIkeMessage(bytes);
    if (!d.ok) {
      // §2.5: the response to a request with an unknown critical payload "MUST include a Notify
      // payload UNSUPPORTED_CRITICAL_PAYLOAD", its data the one-octet payload type.
      const n = d.reason === 'unsupportedCriticalPayload' && d.header ? notifyForDecodeFailure(d) : undefined;
      if (n) this.#send(encodeIkeMessage({ header: { spiI: d.header!.spiI, spiR: new Uint8Array(IKE_SPI_LENGTH), minorVersion: 0, exchangeType: IKE_EXCHANGE.IKE_SA_INIT, initiator: false, response: true, messageId: 0 }, payloads: [notify(n.notifyType, n.data)] }), path);
      return this.#drop(`init:${d.reason}`);
    }
    const { header, payloads } = d.message;
    const key = `${hex(header.spiI)}/${path.remote.address}:${path.remote.port}`;
    const cached = this.#initResponses.get(key);
    if (cached) return this.#send(cached.bytes, path); // §2.1: a retransmitted IKE_SA_INIT
    // An IKE_SA_INIT of an IKE SA that authenticated since: stale (a late copy, a replay).
    if (this.#established.has(key)) return this.#drop('staleInitRequest');
    const peer = this.#o.peers.find((p) => p.remote.address === path.remote.address || p.remote.address === 'any');
    if (!peer) return this.#drop('unknownPeer');
    const zero = new Uint8Array(IKE_SPI_LENGTH);
    const reply = (spiR: Uint8Array, ps: IkePayload[]) => encodeIkeMessage({ header: { spiI: header.spiI, spiR, minorVersion: 0, exchangeType: IKE_EXCHANGE.IKE_SA_INIT, initiator: false, response: true, messageId: 0 }, payloads: ps });
    const sa = payloadOf(payloads, 'SA');
    const ke = payloadOf(payloads, 'KE');
    const nonce = payloadOf(payloads, 'Nonce');
    if (!sa || !ke || !nonce) return this.#drop('initIncomplete');
    if (this.#halfOpen() >= (this.#o.cookieThreshold ?? 32)) {
      // §2.6: under load, answer statelessly with a COOKIE until the initiator returns it.
      const expected = this.#cookieFor(header.spiI, nonce.data, path.remote);
      const got = payloads[0]?.type === 'N' && payloads[0].notifyType === NOTIFY_TYPE.COOKIE ? payloads[0].data : undefined;
      if (!got || got.length > COOKIE_MAX_LENGTH || !eqBytes(got, expected)) {
        this.#drop('cookieRequired');
        return this.#send(reply(zero, [notify(NOTIFY_TYPE.COOKIE, expected)]), path);
      }
    }
    const chosen = chooseIkeProposal(sa, peer.ikeSuites);
    if (!chosen) {
      this.#drop('noProposalChosen');
      return this.#send(reply(zero, [notify(NOTIFY_TYPE.NO_PROPOSAL_CHOSEN)]), path);
    }
    if (ke.group !== chosen.suite.dh) {
      // §1.3: "the responder MUST reject the request and indicate its preferred DH group in the INVALID_KE_PAYLOAD".
      this.#drop('invalidKePayload');
      return this.#send(reply(zero, [notify(NOTIFY_TYPE.INVALID_KE_PAYLOAD, uintBytes(chosen.suite.dh, 2))]), path);
    }
    const check = checkDhPublicValue(ke.group, ke.data);
    if (!check.ok) return this.#drop(`badKe:${check.reason}`);
    const { random } = this.#o.deps;
    const dh = this.#dh(chosen.suite.dh);
    const shared = dhSharedSecret(dh.group, dh.privateKey, ke.data);
    if (!shared.ok) return this.#drop(`badKe:${shared.reason}`);
    const spiR = this.#ikeSpi();
    const nr = random.bytes(32);
    const spiI = Uint8Array.from(header.spiI);
    const ni = Uint8Array.from(nonce.data);
    const keys = deriveIkeSaKeys({ transforms: chosen.suite, ni, nr, sharedSecret: shared.sharedSecret, spiI, spiR });
    const response = reply(spiR, [chosen.reply, { type: 'KE', group: dh.group, data: dh.publicValue }, { type: 'Nonce', data: nr }, ...this.#natdNotifies({ spiI, spiR }, peer.local.address, path.remote)]);
    const ikeSaId = random.uuid();
    this.#gw.initiateIkeSa(ikeSaId, { role: 'responder', peer: path.remote.address, spiI: hex(spiI), spiR: hex(spiR) });
    this.#record(ikeSaId, IKE_EXCHANGE.IKE_SA_INIT, 0, 'peer', 'ok', suiteName(chosen.suite));
    const conn: Conn = { ikeSaId, peer, established: false, initKey: key, ni, nr, initRequest: bytes, initResponse: response, session: this.#session(ikeSaId, false, spiI, spiR, chosen.suite, keys, path, 0, 1) };
    this.#register(conn);
    this.#initResponses.set(key, { bytes: response, path });
    conn.halfOpenTimer = this.#o.deps.clock.setTimeout(() => {
      this.#initResponses.delete(key);
      if (!conn.established) {
        this.#record(ikeSaId, IKE_EXCHANGE.IKE_AUTH, 1, 'peer', 'timeout', 'no IKE_AUTH');
        this.#closeConn(conn, 'halfOpenTimeout');
      }
    }, this.#o.halfOpenMs ?? 30_000);
    this.#send(response, path);
  }

  async #onAuthRequest(conn: Conn, request: IkeMessage): Promise<void> {
    const { peer, session } = conn;
    const p = request.payloads;
    const idi = payloadOf(p, 'IDi');
    const auth = payloadOf(p, 'AUTH');
    const prf = session.prf;
    const ok = idi && auth && auth.method === 2 && sameId(peer.remote.id, idi) &&
      verifyPskAuth(prf, peer.psk, signedOctets({ realMessage: conn.initRequest, peerNonce: conn.nr, prf, skP: session.keys.skPi, id: { idType: idi.idType, data: idi.data } }), auth.data);
    if (!ok) {
      // §2.21.2: AUTHENTICATION_FAILED in the response, and the IKE SA is gone.
      session.respond(request, [notify(NOTIFY_TYPE.AUTHENTICATION_FAILED)]);
      this.#record(conn.ikeSaId, IKE_EXCHANGE.IKE_AUTH, request.header.messageId, 'peer', 'AUTHENTICATION_FAILED', idi && sameId(peer.remote.id, idi) ? 'the AUTH payload does not verify with our pre-shared key' : 'unexpected identity');
      this.#closeConn(conn, 'AUTHENTICATION_FAILED');
      return;
    }
    conn.established = true;
    this.#o.deps.clock.clearTimeout(conn.halfOpenTimer);
    // IKE_AUTH came, so the initiator has our IKE_SA_INIT response: no retransmission to answer.
    if (conn.initKey !== undefined) {
      this.#initResponses.delete(conn.initKey);
      this.#established.add(conn.initKey);
    }
    // RFC 7296 §2.4: INITIAL_CONTACT says the peer has no other IKE SA with us (it restarted, say):
    // our others with this identity are stale, deleted with their children without a DELETE.
    if (findNotify(p, NOTIFY_TYPE.INITIAL_CONTACT)) {
      for (const other of [...this.#byId.values()]) if (other !== conn && other.peer === peer && other.established) this.#closeConn(other, 'INITIAL_CONTACT');
    }
    const ours = signedOctets({ realMessage: conn.initResponse, peerNonce: conn.ni, prf, skP: session.keys.skPr, id: peer.local.id });
    const authPayloads: IkePayload[] = [{ type: 'IDr', idType: peer.local.id.idType, data: peer.local.id.data }, { type: 'AUTH', method: 2, data: pskAuth(prf, peer.psk, ours) }];
    await this.#establish(conn, 'responder');
    // A new IKE SA with this peer supersedes the old (INITIAL_CONTACT, §2.4); children go under it.
    this.#current.set(peer.name, conn);
    this.#armDpd(conn);
    this.#armKeepalive(conn);
    const child = await this.#respondChild(conn, request, { ni: conn.ni, nr: conn.nr });
    session.respond(request, [...authPayloads, ...child.payloads]);
    this.#record(conn.ikeSaId, IKE_EXCHANGE.IKE_AUTH, request.header.messageId, 'peer', child.outcome, child.detail);
  }

  /**
   * The responder's CHILD SA (IKE_AUTH or CREATE_CHILD_SA): which of our children the TS fit,
   * narrowed (§2.9); the suite (§2.7); our SPI; KEYMAT (§2.17); the pair installed before the
   * response leaves. Refusals are Notify payloads (the IKE SA lives on, §1.2).
   */
  async #respondChild(conn: Conn, request: IkeMessage, nonces: { ni: Uint8Array; nr: Uint8Array; sharedSecret?: Uint8Array }, rekeyOf?: ChildRecord, dh?: DhGroupId, collision = false): Promise<{ payloads: IkePayload[]; outcome: string; detail: string; pair?: InstalledPair }> {
    const p = request.payloads;
    const sa = payloadOf(p, 'SA');
    const tsi = payloadOf(p, 'TSi');
    const tsr = payloadOf(p, 'TSr');
    if (!sa || !tsi || !tsr) return { payloads: [notify(NOTIFY_TYPE.INVALID_SYNTAX)], outcome: 'INVALID_SYNTAX', detail: 'SA, TSi or TSr missing' };
    let fit: { child: IkeChildConfig; out: Policy; tsi: AddressRangeSelector[]; tsr: AddressRangeSelector[] } | undefined;
    for (const child of conn.peer.children) {
      const out = this.#gw.spd.get(child.outPolicyId);
      if (!out?.protect || out.protect.protocol !== 'esp') continue;
      for (const sel of out.selectors) {
        const ts = selectorToTs(sel);
        if (!ts) continue;
        // The initiator's TSi is our remote side, its TSr our local side.
        const ni = narrowTs(tsi.selectors as TrafficSelector[], ts.remote);
        const nr = narrowTs(tsr.selectors as TrafficSelector[], ts.local);
        if (ni && nr) { fit = { child, out, tsi: ni, tsr: nr }; break; }
      }
      if (fit) break;
    }
    if (!fit) return { payloads: [notify(NOTIFY_TYPE.TS_UNACCEPTABLE)], outcome: 'TS_UNACCEPTABLE', detail: `TSi=${tsi.selectors.map(formatTs).join(',')} TSr=${tsr.selectors.map(formatTs).join(',')} fit no policy` };
    const protect = fit.out.protect!;
    if (protect.protocol !== 'esp') return { payloads: [notify(NOTIFY_TYPE.NO_PROPOSAL_CHOSEN)], outcome: 'NO_PROPOSAL_CHOSEN', detail: 'not ESP' };
    const inSpi = this.#newSpi(conn.peer);
    const chosen = chooseChildProposal(sa, protect.proposals, { esn: protect.esn, ...(dh !== undefined ? { dh } : {}) }, spiBytes(inSpi));
    if (!chosen) {
      this.#reservedSpis.delete(inSpi);
      return { payloads: [notify(NOTIFY_TYPE.NO_PROPOSAL_CHOSEN)], outcome: 'NO_PROPOSAL_CHOSEN', detail: `no ESP proposal of ${fit.child.name} offered` };
    }
    const keys = deriveChildSaKeys({ prf: conn.session.suite.prf, skD: conn.session.keys.skD, ni: nonces.ni, nr: nonces.nr, ...(nonces.sharedSecret ? { sharedSecret: nonces.sharedSecret } : {}), transforms: { protocol: 'esp', encr: chosen.suite.encr, ...(chosen.suite.encrKeyBits !== undefined ? { encrKeyBits: chosen.suite.encrKeyBits } : {}), integ: chosen.suite.integ } });
    const { random } = this.#o.deps;
    const ids = { outboundSaId: random.uuid(), inboundSaId: random.uuid() };
    const outSpi = spiNumber(chosen.peerSpi);
    const correlationId = `ike-${conn.ikeSaId}-${request.header.messageId}`;
    // §2.8: the peer rekeyed this pair; once our new outbound SA is in, the make-before-break on
    // our side too (the old outbound leaves, the old inbound drains).
    const { outbound } = await this.#installPair(conn, { child: fit.child, out: fit.out, ids, correlationId, selectorIndex: 0 }, chosen.suite, keys, false, inSpi, outSpi, rekeyOf ? this.#initiatorInstalled(ids.inboundSaId, rekeyOf.pair.outboundSaId) : undefined);
    // In a collision our own rekey owns the old pair's fate (`#settleCollision`).
    if (rekeyOf && !collision) {
      const old = rekeyOf.pair;
      this.#gw.rekeys.adoptStart(old, ids, correlationId);
      void outbound.then(
        () => { if (this.#isLive(ids.outboundSaId)) this.#gw.rekeys.adoptComplete(old, ids, correlationId); },
        (e: unknown) => this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, request.header.messageId, 'peer', 'installFailed', `the new outbound SA ${ids.outboundSaId}: ${(e as Error).message}`),
      );
    }
    const detail = `${rekeyOf ? 'rekeyed' : 'created'} CHILD SA ${fit.child.name} ${childSuiteName(chosen.suite)} in=${inSpi.toString(16)} out=${outSpi.toString(16)} TSi=${fit.tsi.map(formatTs).join(',')} TSr=${fit.tsr.map(formatTs).join(',')}`;
    return { payloads: [chosen.reply, { type: 'TSi', selectors: fit.tsi }, { type: 'TSr', selectors: fit.tsr }], outcome: 'ok', detail, pair: ids };
  }

  async #onCreateChild(conn: Conn, request: IkeMessage): Promise<void> {
    const p = request.payloads;
    const sa = payloadOf(p, 'SA');
    const ni = payloadOf(p, 'Nonce');
    const messageId = request.header.messageId;
    if (!sa || !ni) {
      conn.session.respond(request, [notify(NOTIFY_TYPE.INVALID_SYNTAX)]);
      return this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'INVALID_SYNTAX', 'SA or Nonce missing');
    }
    const { random } = this.#o.deps;
    const nr = random.bytes(32);
    if (sa.proposals.some((x) => x.protocol === IKE_PROTOCOL.IKE)) return this.#onIkeRekey(conn, request, sa, Uint8Array.from(ni.data), nr);
    const ke = payloadOf(p, 'KE');
    let sharedSecret: Uint8Array | undefined;
    let myKe: IkePayload | undefined;
    if (ke) {
      // PFS (§1.3.1): a KE in CREATE_CHILD_SA; we answer in the same group if we can.
      if (!(ke.group === DH_GROUP.MODP_2048 || ke.group === DH_GROUP.ECP_256 || ke.group === DH_GROUP.CURVE25519)) {
        conn.session.respond(request, [notify(NOTIFY_TYPE.INVALID_KE_PAYLOAD, uintBytes(conn.session.suite.dh, 2))]);
        return this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'INVALID_KE_PAYLOAD', `group ${ke.group}`);
      }
      const dh = this.#dh(ke.group);
      const shared = dhSharedSecret(dh.group, dh.privateKey, ke.data);
      if (!shared.ok) {
        conn.session.respond(request, [notify(NOTIFY_TYPE.INVALID_SYNTAX)]);
        return this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'INVALID_SYNTAX', shared.detail);
      }
      sharedSecret = shared.sharedSecret;
      myKe = { type: 'KE', group: dh.group, data: dh.publicValue };
    }
    const rekeyN = findNotify(p, NOTIFY_TYPE.REKEY_SA);
    let rekeyOf: ChildRecord | undefined;
    if (rekeyN) {
      // §1.3.3: the SPI is the sender's inbound SPI, i.e. our outbound SA's.
      const outSpi = spiNumber(rekeyN.spi);
      rekeyOf = [...this.#children.values()].find((r) => r.ikeSaId === conn.ikeSaId && r.outSpi === outSpi && this.#isLive(r.pair.outboundSaId));
      if (!rekeyOf) {
        conn.session.respond(request, [notify(NOTIFY_TYPE.CHILD_SA_NOT_FOUND, new Uint8Array(0), IKE_PROTOCOL.ESP, rekeyN.spi)]);
        return this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'CHILD_SA_NOT_FOUND', `rekey of SPI ${outSpi.toString(16)}`);
      }
    }
    // §2.8.1: we are rekeying this CHILD SA too. Both exchanges complete; our rekey settles which
    // new pair stays once it has its own response (`#settleCollision`).
    const collision = rekeyOf !== undefined && this.#ourRekeys.has(rekeyOf.pair.outboundSaId);
    let settle: ((pair: InstalledPair | undefined) => void) | undefined;
    if (collision) this.#peerRekeys.set(rekeyOf!.pair.outboundSaId, { ni: Uint8Array.from(ni.data), nr, pair: new Promise((r) => (settle = r)) });
    const child = await this.#respondChild(conn, request, { ni: ni.data, nr, ...(sharedSecret ? { sharedSecret } : {}) }, rekeyOf, ke?.group as DhGroupId | undefined, collision);
    settle?.(child.pair);
    const [saReply, ...rest] = child.payloads;
    conn.session.respond(request, child.outcome === 'ok' ? [saReply!, { type: 'Nonce', data: nr }, ...(myKe ? [myKe] : []), ...rest] : child.payloads);
    this.#record(conn.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', child.outcome, child.detail);
  }

  #isLive(saId: string): boolean {
    const st = this.#gw.state(saId)?.status;
    return st === 'mature' || st === 'rekeying';
  }

  async #onIkeRekey(old: Conn, request: IkeMessage, sa: SaPayload, ni: Uint8Array, nr: Uint8Array): Promise<void> {
    const messageId = request.header.messageId;
    const ke = payloadOf(request.payloads, 'KE');
    const spiR = this.#ikeSpi();
    const chosen = chooseIkeProposal(sa, [old.session.suite, ...old.peer.ikeSuites], spiR);
    if (!chosen || !ke || chosen.peerSpi.length !== IKE_SPI_LENGTH) {
      old.session.respond(request, [notify(NOTIFY_TYPE.NO_PROPOSAL_CHOSEN)]);
      return this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'NO_PROPOSAL_CHOSEN', 'IKE SA rekey');
    }
    if (ke.group !== chosen.suite.dh) {
      old.session.respond(request, [notify(NOTIFY_TYPE.INVALID_KE_PAYLOAD, uintBytes(chosen.suite.dh, 2))]);
      return this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'INVALID_KE_PAYLOAD', 'IKE SA rekey');
    }
    const dh = this.#dh(chosen.suite.dh);
    const shared = dhSharedSecret(dh.group, dh.privateKey, ke.data);
    if (!shared.ok) {
      old.session.respond(request, [notify(NOTIFY_TYPE.INVALID_SYNTAX)]);
      return this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'INVALID_SYNTAX', shared.detail);
    }
    const spiI = Uint8Array.from(chosen.peerSpi);
    const keys = deriveRekeyedIkeSaKeys({ oldPrf: old.session.suite.prf, oldSkD: old.session.keys.skD, transforms: chosen.suite, ni, nr, sharedSecret: shared.sharedSecret, spiI, spiR });
    const nextId = this.#o.deps.random.uuid();
    const next: Conn = { ikeSaId: nextId, peer: old.peer, established: true, ni, nr, initRequest: old.initRequest, initResponse: old.initResponse, session: this.#session(nextId, false, spiI, spiR, chosen.suite, keys, old.session.path, 0, 0) };
    old.session.respond(request, [chosen.reply, { type: 'Nonce', data: nr }, { type: 'KE', group: dh.group, data: dh.publicValue }]);
    this.#record(old.ikeSaId, IKE_EXCHANGE.CREATE_CHILD_SA, messageId, 'peer', 'ok', `rekeyed IKE SA into ${nextId} ${suiteName(chosen.suite)}`);
    await this.#adoptIkeRekey(old, next, 'responder');
  }

  #onInformational(conn: Conn, request: IkeMessage): void {
    const messageId = request.header.messageId;
    const deletes = request.payloads.filter((p): p is Extract<IkePayload, { type: 'D' }> => p.type === 'D');
    if (deletes.some((d) => d.protocol === IKE_PROTOCOL.IKE)) {
      // §1.4.1: an IKE SA DELETE is answered with an empty INFORMATIONAL; its children go with it.
      conn.session.respond(request, []);
      this.#record(conn.ikeSaId, IKE_EXCHANGE.INFORMATIONAL, messageId, 'peer', 'ok', 'peer deleted the IKE SA');
      this.#closeConn(conn, conn.retiring ? 'rekeyed' : 'peer');
      return;
    }
    const ours: Uint8Array[] = [];
    const gone: string[] = [];
    for (const d of deletes) {
      if (d.protocol !== IKE_PROTOCOL.ESP) continue;
      for (const spi of d.spis) {
        // §1.4.1: the SPI is the sender's inbound one = our outbound; we delete both directions and name our inbound SPI back.
        const outSpi = spiNumber(spi);
        const rec = [...this.#children.values()].find((r) => r.outSpi === outSpi && (r.ikeSaId === conn.ikeSaId));
        if (!rec) continue;
        if (!ours.some((s) => spiNumber(s) === rec.inSpi)) ours.push(spiBytes(rec.inSpi));
        gone.push(outSpi.toString(16));
        this.#children.delete(rec.pair.outboundSaId);
        this.#children.delete(rec.pair.inboundSaId);
        this.#gw.deleteSa(rec.pair.outboundSaId, 'peer');
        this.#gw.deleteSa(rec.pair.inboundSaId, 'peer');
      }
    }
    conn.session.respond(request, ours.length ? [{ type: 'D', protocol: IKE_PROTOCOL.ESP, spis: ours }] : []);
    this.#record(conn.ikeSaId, IKE_EXCHANGE.INFORMATIONAL, messageId, 'peer', 'ok', deletes.length ? `peer deleted CHILD SA ${gone.join(',') || '(unknown SPIs)'}` : 'liveness check');
  }

  // ---------------------------------------------------------------- deletion, liveness

  /** An SA we negotiated died here: for our reasons, tell the peer (DELETE of our inbound SPI, §1.4.1). */
  #saDeleted(saId: string, reason: string): void {
    const rec = this.#children.get(saId);
    if (!rec) return;
    const both = rec.pair.inboundSaId === saId;
    this.#children.delete(saId);
    if (!both) return; // The inbound SA's death (always after or with its outbound) tells the peer.
    this.#children.delete(rec.pair.outboundSaId);
    if (reason === 'peer' || reason === 'ikeSaDeleted') return;
    const conn = this.#byId.get(rec.ikeSaId);
    if (!conn || conn.session.closed) return;
    const messageId = conn.session.nextRequestId;
    void conn.session.request(IKE_EXCHANGE.INFORMATIONAL, [{ type: 'D', protocol: IKE_PROTOCOL.ESP, spis: [spiBytes(rec.inSpi)] }]).then(
      (reply) => {
        // The peer names its inbound SPI of the pair; the outbound is ours to delete (it usually is already).
        this.#gw.deleteSa(rec.pair.outboundSaId, 'peer');
        this.#record(conn.ikeSaId, IKE_EXCHANGE.INFORMATIONAL, messageId, 'us', 'ok', `deleted CHILD SA in=${rec.inSpi.toString(16)} (${reason})${reply.some((p) => p.type === 'D') ? '' : ', peer had none'}`);
      },
      (e: unknown) => this.#record(conn.ikeSaId, IKE_EXCHANGE.INFORMATIONAL, messageId, 'us', 'timeout', String((e as Error).message)),
    );
  }

  #armDpd(conn: Conn): void {
    const every = this.#o.dpdMs ?? 0;
    if (every <= 0) return;
    const { clock } = this.#o.deps;
    conn.dpdTimer = clock.setTimeout(() => {
      if (conn.session.closed || conn.retiring) return;
      if (clock.now() - conn.session.lastHeardAt < every || conn.session.busy) return this.#armDpd(conn);
      const messageId = conn.session.nextRequestId;
      conn.session.request(IKE_EXCHANGE.INFORMATIONAL, []).then(
        () => this.#armDpd(conn),
        () => {
          // §2.4: no answer after the retransmissions: the peer is gone; so are the IKE SA and its children.
          this.#record(conn.ikeSaId, IKE_EXCHANGE.INFORMATIONAL, messageId, 'us', 'timeout', 'liveness check failed');
          this.#closeConn(conn, 'peerUnreachable');
        },
      );
    }, every);
  }

  /**
   * RFC 3948 §4: the side behind a NAT keeps its mapping open with a keepalive every 20 s. With
   * forced encapsulation we present ourselves as behind one (as strongSwan's encap=yes does).
   */
  #armKeepalive(conn: Conn): void {
    const every = this.#o.keepaliveMs ?? 20_000;
    const send = this.#o.transport.keepalive;
    if (every <= 0 || !send || !(conn.behindNat ?? this.#o.forceEncap ?? true)) return;
    const { clock } = this.#o.deps;
    clock.clearTimeout(conn.keepaliveTimer);
    conn.keepaliveTimer = clock.setTimeout(() => {
      if (conn.session.closed) return;
      send(conn.session.path.remote);
      this.counters.keepalivesSent++;
      this.#armKeepalive(conn);
    }, every);
  }

  #stopConn(conn: Conn): void {
    const { clock } = this.#o.deps;
    clock.clearTimeout(conn.halfOpenTimer);
    clock.clearTimeout(conn.dpdTimer);
    clock.clearTimeout(conn.keepaliveTimer);
    if (conn.initKey !== undefined && this.#initResponses.get(conn.initKey)?.bytes === conn.initResponse) this.#initResponses.delete(conn.initKey);
    if (conn.initKey !== undefined) this.#established.delete(conn.initKey);
    conn.session.close();
    this.#conns.delete(hex(conn.session.localSpi));
    this.#byId.delete(conn.ikeSaId);
    if (this.#current.get(conn.peer.name) === conn) this.#current.delete(conn.peer.name);
  }

  #closeConn(conn: Conn, reason: string): void {
    this.#stopConn(conn);
    if (reason !== 'rekeyed') this.#gw.sendIke(conn.ikeSaId, { type: 'ike.delete', reason });
  }
}
