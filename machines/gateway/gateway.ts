/**
 * The gateway runtime: the SPD and SAD the data path decides with, one lifecycle actor per SA,
 * their journals, the IKE SA actors (./ikeSaActors.ts), the usage meters and the rekey
 * coordinator, behind one object that the
 * pipelines (`streams/`) and the key manager talk to. Every change to an SA goes through its
 * actor, so it is a fact before it is an effect.
 */
import type { InspectionEvent, Observer } from 'xstate';
import type { IkeSaState } from '../../engine/aggregates/ikeSa.js';
import type { Journal } from '../journal.js';
import { IkeSaActors, type IkeActor, type IkeSaSpec } from './ikeSaActors.js';
import type { SaState } from '../../engine/aggregates/sa.js';
import type { CryptoBackendName, EspKeys } from '../../engine/crypto/types.js';
import { DropCounters } from '../../engine/dropReasons.js';
import { IpsecError } from '../../engine/errors.js';
import { createEspSa, type EspSa } from '../../engine/esp/espSa.js';
import { standardIvSource, type IvSource } from '../../engine/esp/ivSource.js';
import type { SaFact, SaParams, UsageCheckpoint } from '../../engine/events/saFacts.js';
import { keyFingerprint } from '../../engine/keys/fingerprint.js';
import { parseIpAddress } from '../../engine/policy/ipText.js';
import { Sad } from '../../engine/sad/sad.js';
import type { Spd } from '../../engine/spd/spd.js';
import type { KeyStore } from '../../adapters/keyStore/types.js';
import type { KeyManager, MachineDeps } from '../ports.js';
import { loadSa, startSaActor, type SaActor } from '../saLifecycle/saActor.js';
import type { SaLifecycleOptions } from '../saLifecycle/saLifecycle.machine.js';
import { UsageMeter } from './usageMeter.js';
import { RekeyCoordinator } from '../rekey/rekeyCoordinator.js';
import { Subject, type Observable } from 'rxjs';
import { AcquireManager, type AcquireManagerOptions } from '../acquire/acquireManager.js';
import type { DropReason } from '../../engine/dropReasons.js';
import type { OffloadNic } from '../../adapters/nic/types.js';
import { startOffloadActor, type OffloadActor } from '../offload/offloadActor.js';
import type { OffloadDecision } from '../offload/types.js';

export interface GatewayOptions {
  name: string;
  deps: MachineDeps;
  keys: KeyStore;
  spd: Spd;
  keyManager?: KeyManager;
  lifecycle?: Partial<SaLifecycleOptions>;
  /** Usage is checkpointed as a fact every this many packets per SA (DESIGN §3). Default 10 000. */
  checkpointEveryPackets?: number;
  /**
   * ...and every this many ms when it changed (DESIGN §3: every N packets or T ms), which bounds
   * what a restart could let be replayed on a quiet SA. Default 60 s (100k busy SAs: ~1.7k facts/s); 0: off.
   */
  checkpointEveryMs?: number;
  backend?: CryptoBackendName;
  /** An offload NIC (NDIS IPsec offload v2 shaped); SAs whose policy asks for offload are offered to it. */
  nic?: OffloadNic;
  /** FIPS mode turns offload off (reason `fips`); an untrusted NIC gets no keys (reason `untrusted`). */
  offload?: { fipsMode?: boolean; trusted?: boolean };
  /** Acquire queue, rate limit and timers (machines/acquire). */
  acquire?: AcquireManagerOptions;
  /** Fills IVs for CBC (default: the Random port's bytes). */
  ivFill?: (bytes: Uint8Array) => void;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

/** What a key manager installs: an SA's parameters and keys (the keys go to the key store). */
export interface SaInstallSpec {
  id: string;
  params: Omit<SaParams, 'keyRef' | 'keyFingerprint'>;
  keys: EspKeys;
  correlationId?: string;
  /** Outbound: continue after this sequence number (a static SA's seq-number-counter). */
  sequenceStart?: { hi: number; lo: number };
}

interface Live {
  actor: SaActor;
  journal: Journal;
  meter?: UsageMeter;
  /** In the data path (in the SAD). */
  sa?: EspSa;
  /** The last data-path SA, kept after removal: a NIC's CryptoDone packets are still accepted during a delete. */
  lastSa?: EspSa;
  /** Offloaded: the NIC's handle, and the last sequence number the NIC used. */
  nicHandle?: number;
  nicSeq?: { hi: number; lo: number };
}

const addr = (text: string) => {
  const r = parseIpAddress(text);
  if (!r.ok) throw new RangeError(`address: ${r.rule}`);
  return r.value;
};

export class Gateway {
  readonly name: string;
  readonly sad = new Sad();
  readonly drops = new DropCounters();
  readonly spd: Spd;
  readonly iv: IvSource;
  readonly rekeys: RekeyCoordinator;
  /** ACQUIRE on an SA miss (RFC 4301 §5.1 step 3a): the outbound path's miss handler. */
  readonly acquires: AcquireManager;
  readonly #released = new Subject<Uint8Array[]>();
  /** The offload actor of `options.nic`. */
  readonly offload: OffloadActor | undefined;
  /** Packets an acquire held, released in order once their SA is up: feed them to the outbound path again. */
  readonly released$: Observable<Uint8Array[]> = this.#released.asObservable();
  readonly #o: GatewayOptions;
  readonly #live = new Map<string, Live>();
  readonly #ikes: IkeSaActors;
  readonly #pendingKeys = new Map<string, EspKeys>();
  readonly #sequenceStarts = new Map<string, { hi: number; lo: number }>();
  readonly #waiting = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  /** Facts as recorded, for live views and tests (not a source of truth: the log is). */
  readonly recorded: Array<{ saId: string; fact: SaFact }> = [];
  readonly #saFacts = new Subject<{ saId: string; fact: SaFact }>();
  /** Each SA fact as it is recorded (a key manager sends DELETE when an SA dies here). */
  readonly saFacts$: Observable<{ saId: string; fact: SaFact }> = this.#saFacts.asObservable();

  /**
   * @example
   * const gw = new Gateway({ name: 'left', deps: { clock, random, log }, keys, spd });
   */
  constructor(options: GatewayOptions) {
    this.#o = options;
    this.name = options.name;
    this.spd = options.spd;
    this.iv = standardIvSource(options.ivFill ?? ((b) => b.set(options.deps.random.bytes(b.length))));
    this.rekeys = new RekeyCoordinator(this, options.deps, () => this.#o.keyManager, options.inspect);
    this.#ikes = new IkeSaActors(options.deps, options.keys, { send: (id, e) => this.send(id, e), deleteSa: (id, r) => this.deleteSa(id, r), keyManager: () => this.#o.keyManager }, options.inspect);
    this.#scheduleCheckpoints();
    this.offload = options.nic
      ? startOffloadActor({ deps: options.deps, nic: options.nic, policy: { fipsMode: options.offload?.fipsMode ?? false, trusted: options.offload?.trusted ?? true }, onDecision: (d) => this.#offloadDecided(d), ...(options.inspect ? { inspect: options.inspect } : {}) })
      : undefined;
    const keyManager: KeyManager = {
      acquire: (request, signal) => (this.#o.keyManager ? this.#o.keyManager.acquire(request, signal) : Promise.reject(new Error('no key manager'))),
      rekeyChild: (request, signal) => (this.#o.keyManager ? this.#o.keyManager.rekeyChild(request, signal) : Promise.reject(new Error('no key manager'))),
    };
    this.acquires = new AcquireManager(
      {
        ...options.deps,
        keyManager,
        release: (packets) => this.#released.next(packets),
        drop: (packets: Uint8Array[], reason: DropReason) => { for (let i = 0; i < packets.length; i++) this.drops.count(reason); },
        ...(options.inspect ? { inspect: options.inspect } : {}),
      },
      options.acquire,
    );
  }

  get keyManager(): KeyManager | undefined {
    return this.#o.keyManager;
  }

  set keyManager(km: KeyManager | undefined) {
    this.#o.keyManager = km;
  }

  /**
   * Installs an SA: keys to the key store, `SaInstalled` to the log, then the data path.
   * Resolves once the SA carries traffic.
   *
   * @example
   * await gw.installSa({ id: 'out-1', params, keys: { encKey } });
   */
  async installSa(spec: SaInstallSpec): Promise<void> {
    // One actor per SA id: a second install of the same id would orphan the first actor.
    if (this.#live.has(spec.id)) throw new IpsecError('sa.duplicate', `SA ${spec.id} already has an actor (status ${this.state(spec.id)?.status})`);
    const keyRef = `sa-${spec.id}`;
    await this.#o.keys.put(keyRef, { ...spec.keys });
    const params: SaParams = { ...spec.params, keyRef, keyFingerprint: keyFingerprint(spec.keys.encKey, ...(spec.keys.integKey ? [spec.keys.integKey] : [])) };
    this.#pendingKeys.set(spec.id, spec.keys);
    if (spec.sequenceStart) this.#sequenceStarts.set(spec.id, spec.sequenceStart);
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(spec.id, { resolve, reject }));
    this.#start(spec.id);
    this.send(spec.id, { type: 'sa.install', params, ...(spec.correlationId ? { correlationId: spec.correlationId } : {}) });
    return done;
  }

  /**
   * Establishes an IKE SA (what IKE_SA_INIT + IKE_AUTH end with, RFC 7296 §1.2); its keys go to
   * the key store. Resolves once `IkeSaEstablished` is durable.
   *
   * @example
   * await gw.establishIkeSa({ id: 'ike-1', peer: '192.0.2.2', keys: { skD }, softLifetimeMs: 3 * 3600_000, hardLifetimeMs: 4 * 3600_000 });
   */
  establishIkeSa(spec: IkeSaSpec): Promise<void> {
    return this.#ikes.establish(spec);
  }

  /** An IKE SA's keys (`ike-<id>` in the key store): what rehydrating its session after a restart needs. Throws `KeyUnavailable` when they are gone. */
  ikeKeys(ikeSaId: string): Promise<Record<string, Uint8Array | undefined>> {
    return this.#o.keys.get(`ike-${ikeSaId}`);
  }

  /** IKEv2 started an IKE SA: its actor records `IkeSaInitiated`; exchanges follow as `ike.exchange` events. */
  initiateIkeSa(ikeSaId: string, data: { role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }): void {
    this.#ikes.initiate(ikeSaId, data);
  }

  /** Sends an event to an IKE SA's actor (the key manager's side of a rekey). */
  sendIke(ikeSaId: string, event: Parameters<IkeActor['send']>[0]): void {
    this.#ikes.send(ikeSaId, event);
  }

  /** The folded state of an IKE SA. */
  ikeState(ikeSaId: string): IkeSaState | undefined {
    return this.#ikes.state(ikeSaId);
  }

  ikeSaIds(): string[] {
    return this.#ikes.ids();
  }

  /** Deletes an SA (operator or peer DELETE); exactly once, however often asked. */
  deleteSa(saId: string, reason: 'operator' | 'peer' | 'nicRequest' | 'ikeSaDeleted' | 'rekeyCollision'): void {
    this.send(saId, { type: 'sa.delete', reason });
  }

  /**
   * The NIC flagged an inbound packet with SaDeleteReq: delete that SA and its paired outbound
   * SA, each exactly once however many flagged packets arrive; the NIC never removes them itself.
   */
  nicDeleteRequest(saId: string, nic: string): void {
    const paired = this.state(saId)?.params?.pairedSaId;
    this.send(saId, { type: 'nic.saDeleteRequest', nic });
    if (paired) this.send(paired, { type: 'sa.delete', reason: 'nicRequest' });
  }

  /** Sends a lifecycle event to an SA's actor (rekey coordinator, offload). */
  send(saId: string, event: Parameters<SaActor['send']>[0]): void {
    const actor = this.#live.get(saId)?.actor;
    // A dead SA's actor is final: its aggregate already said "exactly once"; nothing to tell it.
    if (actor?.getSnapshot().status === 'active') actor.send(event);
  }

  /** The folded state of a live (or just dead) SA. */
  state(saId: string): SaState | undefined {
    return this.#live.get(saId)?.actor.getSnapshot().context.sa;
  }

  /** Ids of the SAs with an actor. */
  saIds(): string[] {
    return [...this.#live.keys()];
  }

  journal(saId: string): Journal | undefined {
    return this.#live.get(saId)?.journal;
  }

  /**
   * Per packet, from the data path, after an SA processed it: two comparisons unless a threshold
   * is crossed (then one event to the actor).
   */
  metered(sa: EspSa): void {
    if (this.#trafficCues.size > 0) this.#trafficCues.get(sa.config.id)?.();
    const live = this.#live.get(sa.config.id);
    const m = live?.meter;
    if (!m || (sa.usage.packets < m.nextPackets && sa.usage.bytes < m.nextBytes)) return;
    const usage = this.#usage(sa);
    const crossing = m.cross(usage.packets, usage.bytes);
    this.send(sa.config.id, crossing.kind === 'checkpoint' ? { type: 'usage.checkpoint', usage } : { type: 'usage.limit', which: crossing.kind, limit: crossing.limit, usage });
  }

  readonly #trafficCues = new Map<string, () => void>();

  /**
   * Resolves when the SA `saId` has processed a packet (at once if it has): a rekey responder's
   * cue that the initiator installed the new pair (RFC 7296 §2.8).
   *
   * @example
   * await gw.firstPacket(newInboundId); // the peer sends on the new SA: so may we
   */
  firstPacket(saId: string): Promise<void> {
    if ((this.#live.get(saId)?.sa?.usage.packets ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#trafficCues.get(saId);
      this.#trafficCues.set(saId, () => {
        this.#trafficCues.delete(saId);
        before?.();
        resolve();
      });
    });
  }

  /** The outbound counter would cycle (RFC 4303 §3.3.3): rekey now. */
  sequenceExhausted(sa: EspSa): void {
    this.send(sa.config.id, { type: 'seq.exhausted', usage: this.#usage(sa) });
  }

  /** Resolves when every SA's and IKE SA's facts so far are durable and their effects ran. */
  async settled(): Promise<void> {
    await Promise.all([...[...this.#live.values()].map((l) => l.journal.settled()), this.#ikes.settled(), this.acquires.settled(), this.offload?.journal.settled()]);
  }

  /**
   * Rebuilds the gateway's SAs from the log (after a restart): each stream folded, each actor
   * started in its state, live SAs back in the data path with their keys from the key store and
   * the outbound counter resumed past the last checkpoint plus a margin (DESIGN §3).
   *
   * An SA whose keys the key store no longer has (an in-memory store across a restart, a wrong
   * KEK) is started in its logged state but stays out of the data path; its id is returned in
   * `keysLost` so the caller deletes it (it must be renegotiated).
   *
   * @example
   * const { keysLost } = await gw.restore(['out-1', 'in-1']);
   */
  async restore(saIds: readonly string[]): Promise<{ keysLost: string[] }> {
    const keysLost: string[] = [];
    for (const id of saIds) {
      const state = await loadSa(this.#o.deps.log, id);
      if (state.status === 'none' || state.status === 'dead') continue;
      if (state.params && state.status !== 'larval') {
        try {
          const k = await this.#o.keys.get(state.params.keyRef);
          this.#pendingKeys.set(id, k.integKey ? { encKey: k.encKey!, integKey: k.integKey } : { encKey: k.encKey! });
        } catch (e) {
          if (!(e instanceof IpsecError && e.code.startsWith('keys.'))) throw e;
          keysLost.push(id);
        }
      }
      const live = this.#start(id, state);
      if (state.status !== 'larval') this.#installInDataPath(id, live.actor.getSnapshot().context.sa, state.usage);
    }
    return { keysLost };
  }

  /**
   * Rebuilds IKE SAs from their streams; one caught mid-rekey asks the key manager again.
   *
   * @example
   * await gw.restoreIkeSas(['ike-1']);
   */
  restoreIkeSas(ikeSaIds: readonly string[]): Promise<void> {
    return this.#ikes.restore(ikeSaIds);
  }

  #checkpointTimer: unknown;

  /** Every `checkpointEveryMs`: each SA in the data path records its usage if it changed. */
  #scheduleCheckpoints(): void {
    const every = this.#o.checkpointEveryMs ?? 60_000;
    if (every <= 0) return;
    this.#checkpointTimer = this.#o.deps.clock.setTimeout(() => {
      for (const [id, live] of this.#live) if (live.sa) this.send(id, { type: 'usage.checkpoint', usage: this.#usage(live.sa) });
      this.#scheduleCheckpoints();
    }, every);
  }

  /** Stops every actor (their timers too); the log keeps everything. */
  stop(): void {
    if (this.#checkpointTimer !== undefined) this.#o.deps.clock.clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = undefined;
    this.offload?.actor.stop();
    this.acquires.stop();
    this.rekeys.stop();
    for (const l of this.#live.values()) l.actor.stop();
    this.#ikes.stop();
    this.#live.clear();
  }

  #start(saId: string, state?: SaState): Live {
    const { actor, journal } = startSaActor({
      deps: { ...this.#o.deps, usageOf: (id) => { const sa = this.#live.get(id)?.sa; return sa ? this.#usage(sa) : undefined; } },
      saId,
      ...(state ? { state } : {}),
      ...(this.#o.lifecycle ? { options: this.#o.lifecycle } : {}),
      ...(this.#o.inspect ? { inspect: this.#o.inspect } : {}),
      effects: {
        installInDataPath: (id, s) => this.#installInDataPath(id, s),
        removeFromDataPath: (id) => this.#removeFromDataPath(id),
        requestRekey: (id) => this.rekeys.request(id),
      },
      onFacts: (id, facts) => { for (const fact of facts) { this.recorded.push({ saId: id, fact }); this.#saFacts.next({ saId: id, fact }); } },
      onRejected: (id, message) => this.#waiting.get(id)?.reject(new Error(message)),
      onJournalFailure: (id, error) => {
        this.#waiting.get(id)?.reject(error);
        this.#removeFromDataPath(id);
      },
    });
    const live: Live = { actor, journal };
    this.#live.set(saId, live);
    return live;
  }

  #installInDataPath(saId: string, s: SaState, resume?: UsageCheckpoint): void {
    const p = s.params!;
    const keys = this.#pendingKeys.get(saId);
    this.#pendingKeys.delete(saId);
    const live = this.#live.get(saId);
    if (!keys || !live) return;
    const margin = (this.#o.checkpointEveryPackets ?? 10_000) * 2;
    const seq = resume ? resume.seqHi * 2 ** 32 + resume.seqLo + margin : 0;
    const sa = createEspSa({
      id: saId, direction: p.direction, spi: p.spi, mode: p.mode, esn: p.esn, replayWindow: p.replayWindow,
      suite: { encr: p.encr!, ...(p.encrKeyBits ? { encrKeyBits: p.encrKeyBits } : {}), integ: p.integ },
      keys,
      ...(this.#o.backend ? { backend: this.#o.backend } : {}),
      ...(p.tunnel ? { tunnel: { src: addr(p.tunnel.src), dst: addr(p.tunnel.dst) } } : {}),
      ...(p.natT ? { natT: p.natT } : {}),
      // After a restart the counter resumes past the checkpoint (RFC 4303 §3.3.3: never reuse).
      ...(resume && p.direction === 'outbound' ? { sequenceStart: { hi: Math.floor(seq / 2 ** 32), lo: seq % 2 ** 32 } } : {}),
      ...(!resume && this.#sequenceStarts.has(saId) ? { sequenceStart: this.#sequenceStarts.get(saId)! } : {}),
      // Inbound after a restart: the window as last checkpointed (what came in since then could be
      // replayed once: the checkpoint interval bounds that exposure).
      ...(resume?.replay && p.direction === 'inbound' && p.replayWindow > 0 ? { replayState: resume.replay } : {}),
    });
    this.#sequenceStarts.delete(saId);
    if (resume) {
      sa.usage.packets = resume.packets;
      sa.usage.bytes = resume.bytes;
    }
    this.sad.add({ id: saId, spi: p.spi, protocol: p.protocol, direction: p.direction, dst: addr(p.dst), sa, lifetimes: p.lifetimes, addedAtMs: Date.parse(s.installedAt!), policyId: p.policyId, statefulFragmentCheck: false, pathMtu: undefined });
    live.sa = sa;
    live.meter = new UsageMeter(p.lifetimes, this.#o.checkpointEveryPackets ?? 10_000);
    if (resume) live.meter.cross(resume.packets, resume.bytes);
    this.#waiting.get(saId)?.resolve();
    this.#waiting.delete(saId);
    if (s.ikeSaId) this.sendIke(s.ikeSaId, { type: 'child.add', saId });
    live.lastSa = sa;
    // Offload where the policy asks for it; the offload actor decides (capabilities, capacity, FIPS, trust).
    const preference = p.policyId !== undefined ? this.spd.get(p.policyId)?.protect?.offload : undefined;
    if (this.offload && preference && preference !== 'none') this.offload.offer({ saId, params: p, keys, ...(resume && p.direction === 'outbound' ? { sequenceStart: { hi: Math.floor(seq / 2 ** 32), lo: seq % 2 ** 32 } } : {}) });
    // An outbound SA serves its whole policy: an acquire waiting on any of its selectors is done.
    if (p.direction === 'outbound' && p.policyId !== undefined) {
      const n = this.spd.get(p.policyId)?.selectors.length ?? 0;
      for (let i = 0; i < n; i++) this.acquires.saInstalled(p.policyId, i, [saId]);
    }
  }

  #removeFromDataPath(saId: string): void {
    this.sad.remove(saId);
    const gone = this.#live.get(saId);
    if (gone?.nicHandle !== undefined) {
      // DELETE_SA once SaDeleted is durable: the NIC never removes an SA on its own.
      delete gone.nicHandle;
      this.offload?.withdraw(saId);
    }
    const ikeSaId = this.state(saId)?.ikeSaId;
    if (ikeSaId) this.sendIke(ikeSaId, { type: 'child.remove', saId });
    const live = this.#live.get(saId);
    // Its OpenSSL contexts and keys (native back end) go now, not when the GC gets to them.
    live?.sa?.transform.dispose();
    if (live) delete live.sa;
    const keyRef = this.state(saId)?.params?.keyRef;
    // A dead SA's keys are of no further use: shred them.
    if (keyRef) void this.#o.keys.delete(keyRef).catch(() => {});
  }

  #usage(sa: EspSa): UsageCheckpoint {
    if (sa.replay) {
      const replay = sa.replay.snapshot();
      return { packets: sa.usage.packets, bytes: sa.usage.bytes, seqHi: replay.topHi, seqLo: replay.topLo, replay };
    }
    const nic = this.#live.get(sa.config.id)?.nicSeq;
    const hi = sa.seq?.hi ?? 0;
    const lo = sa.seq?.lo ?? 0;
    // Offloaded: the NIC numbers the packets; the checkpoint takes whichever counter is ahead.
    const useNic = nic !== undefined && nic.hi * 2 ** 32 + nic.lo > hi * 2 ** 32 + lo;
    return { packets: sa.usage.packets, bytes: sa.usage.bytes, seqHi: useNic ? nic.hi : hi, seqLo: useNic ? nic.lo : lo };
  }

  #offloadDecided(d: OffloadDecision): void {
    const live = this.#live.get(d.saId);
    if ('handle' in d) {
      if (!live?.sa) return; // died meanwhile: the withdraw follows from its removal
      void this.#switchToNic(live, live.sa, d.saId, d.nic, d.handle);
    } else if ('reason' in d) {
      this.send(d.saId, { type: 'offload.rejected', nic: d.nic, reason: d.reason });
    } else if (live?.lastSa) {
      this.#backToSoftware(live, live.lastSa); // lost or reset: software from now on
    }
  }

  /**
   * Hands an SA to the NIC. An outbound SA may have sent packets in software while ADD_SA ran:
   * the NIC's counter is first moved past them (UPDATE_SA), or it would reuse their numbers.
   */
  async #switchToNic(live: Live, sa: EspSa, saId: string, nic: string, handle: number): Promise<void> {
    const seq = sa.seq;
    while (seq && (seq.hi !== 0 || seq.lo !== 0)) {
      const at = { hi: seq.hi, lo: seq.lo };
      await this.#o.nic!.updateSa(handle, { sequence: at });
      if (seq.hi === at.hi && seq.lo === at.lo) {
        live.nicSeq = at;
        break;
      }
    }
    if (live.sa !== sa) return; // removed meanwhile
    live.nicHandle = handle;
    this.send(saId, { type: 'offload.added', nic, handle });
  }

  /** Software takes over an offloaded SA: its counter continues past what the NIC used. */
  #backToSoftware(live: Live, sa: EspSa): void {
    delete live.nicHandle;
    if (live.nicSeq) sa.seq?.advanceTo(live.nicSeq.hi, live.nicSeq.lo);
  }

  /**
   * Outbound through the NIC when the SA is offloaded: the NIC numbers and seals the packet.
   * `undefined` when the SA is not offloaded (the software path applies).
   */
  nicTransmit(sa: EspSa, packet: Uint8Array): { ok: true; packet: Uint8Array } | { ok: false; reason: DropReason } | undefined {
    const live = this.#live.get(sa.config.id);
    const nic = this.#o.nic;
    if (!nic || live?.nicHandle === undefined) return undefined;
    const r = nic.transmit([{ handle: live.nicHandle, packet }])[0]!;
    if (!r.ok) {
      if (r.reason === 'noSa') {
        this.offload?.reportLost(live.nicHandle);
        this.#backToSoftware(live, sa);
        return { ok: false, reason: 'offloadError' };
      }
      // Never offloaded: packets that need fragmentation or options the NIC cannot process.
      // They are not sealed in software either: the NIC owns this SA's sequence counter.
      return { ok: false, reason: r.reason === 'needsFragmentation' ? 'oversized' : r.reason === 'unsupported' ? 'unsupported' : (r.reason as DropReason) };
    }
    live.nicSeq = { hi: r.seqHi, lo: r.seqLo };
    sa.usage.packets++;
    sa.usage.bytes += packet.length;
    return { ok: true, packet: r.packet };
  }

  /**
   * Inbound through the NIC: every datagram is indicated up, errors included. CryptoDone
   * packets are checked for replay here (the NIC does not) and accepted even while their SA is
   * being deleted; SaDeleteReq deletes the SA and its pair, exactly once each.
   */
  nicReceive(datagram: Uint8Array): { kind: 'software' } | { kind: 'drop'; reason: DropReason; saId?: string } | { kind: 'opened'; sa: EspSa; packet: Uint8Array } {
    const nic = this.#o.nic;
    if (!nic) return { kind: 'software' };
    const ind = nic.receive([datagram])[0]!;
    if (!ind.cryptoDone) return { kind: 'software' };
    const layer = ind.layers[ind.layers.length - 1]!;
    if (ind.saDeleteRequest) this.nicDeleteRequest(layer.saId, nic.name);
    const sa = this.#live.get(layer.saId)?.lastSa;
    if (!sa) return { kind: 'drop', reason: 'unknownSpi' };
    if (layer.status !== 'success') {
      const reason: DropReason = layer.status === 'authFailed' ? 'authFailed' : layer.status === 'paddingFailed' ? 'badPadding' : layer.status === 'invalidPacketSyntax' ? 'malformed' : 'offloadError';
      return { kind: 'drop', reason, saId: layer.saId };
    }
    // RFC 4303 §3.4.3: the receiver checks the sequence number (the NIC leaves it to the stack).
    const verdict = sa.replay ? sa.replay.check(layer.seqHi, layer.seqLo) : 'ok';
    if (verdict !== 'ok') return { kind: 'drop', reason: verdict, saId: layer.saId };
    sa.replay?.advance(layer.seqHi, layer.seqLo);
    sa.usage.packets++;
    sa.usage.bytes += layer.payload.length;
    return { kind: 'opened', sa, packet: layer.payload };
  }
}
