/**
 * A key manager for two gateways that trust one process: it "negotiates" by drawing keys and
 * SPIs itself and installing both ends, in the order IKE would (each side's new inbound SA
 * before any new outbound SA, RFC 7296 §2.8). It is the in-memory twin of IKEv2 for tests and
 * the demo (cf. `setkey`'s manual keying), never a way to key real peers.
 */
import type { EncrId, IntegId } from '../../engine/crypto/transformIds.js';
import { encrSpec, integSpec } from '../../engine/crypto/suites.js';
import type { SaLifetimes } from '../../engine/sad/types.js';
import type { Gateway } from '../gateway/gateway.js';
import { compareNonces } from '../rekey/collision.js';
import type { AcquireRequest, InstalledPair, KeyManager, Random } from '../ports.js';

export interface ManualKeyingSide {
  gateway: Gateway;
  /** This side's tunnel endpoint. */
  address: string;
  /** The outbound PROTECT policy its outbound SAs serve, and the inbound policy its inbound SAs are checked against. */
  outPolicyId: string;
  inPolicyId: string;
}

export interface ManualKeyingTemplate {
  encr: EncrId;
  encrKeyBits?: number;
  integ: IntegId;
  esn: boolean;
  replayWindow: number;
  lifetimes: SaLifetimes;
  /** IKE SA lifetimes; children live under an IKE SA and move to its successor on rekey. */
  ikeLifetimes?: { softMs?: number; hardMs?: number };
}

/** Thrown to the loser of a rekey collision (RFC 7296 §2.8.1). */
export class RekeyCollision extends Error {
  constructor() {
    super('collision: the peer is already rekeying this CHILD SA (RFC 7296 §2.8.1)');
  }
}

/**
 * @example
 * const { a: kmA, b: kmB } = manualKeying(left, right, template, random);
 * left.gateway.keyManager = kmA; right.gateway.keyManager = kmB;
 */
export function manualKeying(a: ManualKeyingSide, b: ManualKeyingSide, template: ManualKeyingTemplate, random: Random): { a: KeyManager; b: KeyManager } {
  /** SA id on one side → the SA id of the same SA on the other side. */
  const twin = new Map<string, string>();
  const rekeying = new Set<string>();
  const { spec, keyBits } = encrSpec(template.encr, template.encrKeyBits);
  const keys = () => ({
    encKey: random.bytes(keyBits / 8 + spec.saltLength),
    ...(template.integ !== 0 ? { integKey: random.bytes(integSpec(template.integ).keyLength) } : {}),
  });
  const spiRange = { min: 0x1000, max: 0xfffffff };
  /** The live IKE SA between the two sides, by side. */
  const currentIke = new Map<ManualKeyingSide, string>();

  async function establishIke(self: ManualKeyingSide, peer: ManualKeyingSide, selfId: string, rekeyOf?: { self: string; peer: string }): Promise<string> {
    const peerId = random.uuid();
    const life = { ...(template.ikeLifetimes?.softMs !== undefined ? { softLifetimeMs: template.ikeLifetimes.softMs } : {}), ...(template.ikeLifetimes?.hardMs !== undefined ? { hardLifetimeMs: template.ikeLifetimes.hardMs } : {}) };
    const skD = random.bytes(32);
    await self.gateway.establishIkeSa({ id: selfId, peer: peer.address, keys: { skD }, ...life, ...(rekeyOf ? { rekeyOf: rekeyOf.self } : {}) });
    await peer.gateway.establishIkeSa({ id: peerId, peer: self.address, keys: { skD }, ...life, ...(rekeyOf ? { rekeyOf: rekeyOf.peer } : {}) });
    twin.set(selfId, peerId).set(peerId, selfId);
    currentIke.set(self, selfId).set(peer, peerId);
    return peerId;
  }

  /** The IKE SA children go under: the current one if it lives, else a new one. */
  async function ikeFor(self: ManualKeyingSide, peer: ManualKeyingSide): Promise<{ self: string; peer: string }> {
    const id = currentIke.get(self);
    const st = id ? self.gateway.ikeState(id)?.status : undefined;
    if (id && (st === 'established' || st === 'rekeying')) return { self: id, peer: twin.get(id)! };
    const selfId = random.uuid();
    return { self: selfId, peer: await establishIke(self, peer, selfId) };
  }

  async function installPair(from: ManualKeyingSide, to: ManualKeyingSide, idsFrom: InstalledPair, correlationId: string): Promise<InstalledPair> {
    const idsTo: InstalledPair = { outboundSaId: random.uuid(), inboundSaId: random.uuid() };
    const ike = await ikeFor(from, to);
    const intRandom = (n: number) => random.int(0, n - 1);
    const spiFromTo = to.gateway.sad.allocateSpi(spiRange, intRandom);
    const spiToFrom = from.gateway.sad.allocateSpi(spiRange, intRandom);
    const kFromTo = keys();
    const kToFrom = keys();
    const base = { protocol: 'esp' as const, mode: 'tunnel' as const, encr: template.encr, ...(template.encrKeyBits ? { encrKeyBits: template.encrKeyBits } : {}), integ: template.integ, esn: template.esn, replayWindow: template.replayWindow, lifetimes: template.lifetimes };
    const fromTo = { tunnel: { src: from.address, dst: to.address }, dst: to.address };
    const toFrom = { tunnel: { src: to.address, dst: from.address }, dst: from.address };
    // Inbound first on both sides, then outbound: no packet can arrive before its SA.
    await to.gateway.installSa({ id: idsTo.inboundSaId, params: { ...base, ...fromTo, spi: spiFromTo, direction: 'inbound', policyId: to.inPolicyId, pairedSaId: idsTo.outboundSaId, ikeSaId: ike.peer }, keys: kFromTo, correlationId });
    await from.gateway.installSa({ id: idsFrom.inboundSaId, params: { ...base, ...toFrom, spi: spiToFrom, direction: 'inbound', policyId: from.inPolicyId, pairedSaId: idsFrom.outboundSaId, ikeSaId: ike.self }, keys: kToFrom, correlationId });
    await from.gateway.installSa({ id: idsFrom.outboundSaId, params: { ...base, ...fromTo, spi: spiFromTo, direction: 'outbound', policyId: from.outPolicyId, pairedSaId: idsFrom.inboundSaId, ikeSaId: ike.self }, keys: kFromTo, correlationId });
    await to.gateway.installSa({ id: idsTo.outboundSaId, params: { ...base, ...toFrom, spi: spiToFrom, direction: 'outbound', policyId: to.outPolicyId, pairedSaId: idsTo.inboundSaId, ikeSaId: ike.peer }, keys: kToFrom, correlationId });
    twin.set(idsFrom.outboundSaId, idsTo.inboundSaId).set(idsTo.inboundSaId, idsFrom.outboundSaId);
    twin.set(idsFrom.inboundSaId, idsTo.outboundSaId).set(idsTo.outboundSaId, idsFrom.inboundSaId);
    return idsTo;
  }

  const side = (self: ManualKeyingSide, peer: ManualKeyingSide): KeyManager => ({
    async acquire(request: AcquireRequest, signal: AbortSignal) {
      signal.throwIfAborted();
      const ids = { outboundSaId: random.uuid(), inboundSaId: random.uuid() };
      await installPair(self, peer, ids, request.acquireId);
      return ids;
    },
    async rekeyChild({ old, next, correlationId }, signal) {
      signal.throwIfAborted();
      const peerOld: InstalledPair = { outboundSaId: twin.get(old.inboundSaId)!, inboundSaId: twin.get(old.outboundSaId)! };
      const live = (gw: Gateway, id: string) => { const st = gw.state(id)?.status; return st === 'mature' || st === 'rekeying'; };
      if (self.gateway.state(old.outboundSaId)?.status !== 'rekeying' || !live(peer.gateway, peerOld.outboundSaId) || !live(peer.gateway, peerOld.inboundSaId)) throw new Error('the CHILD SA was already rekeyed or deleted');
      if (rekeying.has(old.outboundSaId) || rekeying.has(peerOld.outboundSaId)) throw new RekeyCollision();
      if (peer.gateway.rekeys.running(peerOld.outboundSaId)) {
        // Both sides rekey this CHILD SA (RFC 7296 §2.8.1): the lowest nonce loses. The twin has
        // no responder nonces, so it compares the two initiators' (each side sees both).
        const mine = self.gateway.rekeys.nonceOf(old.outboundSaId);
        const theirs = peer.gateway.rekeys.nonceOf(peerOld.outboundSaId);
        if (!mine || !theirs || compareNonces(mine, theirs) < 0) throw new RekeyCollision();
      }
      rekeying.add(old.outboundSaId);
      try {
        const peerNext = await installPair(self, peer, next, correlationId);
        peer.gateway.rekeys.adopt(peerOld, peerNext, correlationId);
        return next;
      } finally {
        rekeying.delete(old.outboundSaId);
      }
    },
    async rekeyIke({ old, next }, signal) {
      signal.throwIfAborted();
      const peerOld = twin.get(old);
      if (!peerOld) throw new Error(`unknown IKE SA ${old}`);
      // The peer may have rekeyed it first (our request was already on its way): nothing to do.
      if (self.gateway.ikeState(old)?.rekeyedTo !== undefined || self.gateway.ikeState(old)?.status !== 'rekeying') throw new Error(`IKE SA ${old} was already rekeyed`);
      const peerState = peer.gateway.ikeState(peerOld);
      if (peerState?.status === 'rekeying') {
        // Both sides rekey the IKE SA at once (RFC 7296 §2.8.2): the lowest nonce loses. The twin's
        // nonces are the new IKE SA ids each side drew; both sides compare the same two.
        const bytes = (id: string) => new TextEncoder().encode(id);
        if (compareNonces(bytes(next), bytes(peerState.rekey!.newIkeSaId)) < 0) throw new RekeyCollision();
      } else if (peerState?.status !== 'established') {
        throw new Error(`the peer's IKE SA ${peerOld} is ${peerState?.status}`);
      }
      const peerNext = await establishIke(self, peer, next, { self: old, peer: peerOld });
      peer.gateway.sendIke(peerOld, { type: 'ike.adoptRekey', newIkeSaId: peerNext });
    },
  });
  return { a: side(a, b), b: side(b, a) };
}
