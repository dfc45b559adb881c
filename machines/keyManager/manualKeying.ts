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

  async function installPair(from: ManualKeyingSide, to: ManualKeyingSide, idsFrom: InstalledPair, correlationId: string): Promise<InstalledPair> {
    const idsTo: InstalledPair = { outboundSaId: random.uuid(), inboundSaId: random.uuid() };
    const intRandom = (n: number) => random.int(0, n - 1);
    const spiFromTo = to.gateway.sad.allocateSpi(spiRange, intRandom);
    const spiToFrom = from.gateway.sad.allocateSpi(spiRange, intRandom);
    const kFromTo = keys();
    const kToFrom = keys();
    const base = { protocol: 'esp' as const, mode: 'tunnel' as const, encr: template.encr, ...(template.encrKeyBits ? { encrKeyBits: template.encrKeyBits } : {}), integ: template.integ, esn: template.esn, replayWindow: template.replayWindow, lifetimes: template.lifetimes };
    const fromTo = { tunnel: { src: from.address, dst: to.address }, dst: to.address };
    const toFrom = { tunnel: { src: to.address, dst: from.address }, dst: from.address };
    // Inbound first on both sides, then outbound: no packet can arrive before its SA.
    await to.gateway.installSa({ id: idsTo.inboundSaId, params: { ...base, ...fromTo, spi: spiFromTo, direction: 'inbound', policyId: to.inPolicyId, pairedSaId: idsTo.outboundSaId }, keys: kFromTo, correlationId });
    await from.gateway.installSa({ id: idsFrom.inboundSaId, params: { ...base, ...toFrom, spi: spiToFrom, direction: 'inbound', policyId: from.inPolicyId, pairedSaId: idsFrom.outboundSaId }, keys: kToFrom, correlationId });
    await from.gateway.installSa({ id: idsFrom.outboundSaId, params: { ...base, ...fromTo, spi: spiFromTo, direction: 'outbound', policyId: from.outPolicyId, pairedSaId: idsFrom.inboundSaId }, keys: kFromTo, correlationId });
    await to.gateway.installSa({ id: idsTo.outboundSaId, params: { ...base, ...toFrom, spi: spiToFrom, direction: 'outbound', policyId: to.outPolicyId, pairedSaId: idsTo.inboundSaId }, keys: kToFrom, correlationId });
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
      if (rekeying.has(old.outboundSaId) || rekeying.has(peerOld.outboundSaId) || peer.gateway.rekeys.running(peerOld.outboundSaId)) throw new RekeyCollision();
      rekeying.add(old.outboundSaId);
      try {
        const peerNext = await installPair(self, peer, next, correlationId);
        peer.gateway.rekeys.adopt(peerOld, peerNext, correlationId);
        return next;
      } finally {
        rekeying.delete(old.outboundSaId);
      }
    },
  });
  return { a: side(a, b), b: side(b, a) };
}
