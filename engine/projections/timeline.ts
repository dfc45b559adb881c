import type { Fact } from '../events/fact.js';
import type { SaFact } from '../events/saFacts.js';
import type { LoggedFact } from './replay.js';

/** One line of an SA's life: when, what, and why in words. */
export interface TimelineEntry {
  at: string;
  position: bigint;
  type: string;
  /** The change and its cause, e.g. "deleted: hard lifetime reached (time)". */
  summary: string;
  causationId?: string;
  correlationId?: string;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Says what a fact means in words a person reads in a timeline ("why did this SA die?").
 *
 * @example
 * describeSaFact(f) // 'rekey started: successor sa-8 (jitter 1.2 s)'
 */
export function describeSaFact(fact: Fact): string {
  const f = fact as SaFact;
  switch (f.type) {
    case 'SaLarvalCreated':
      return `larval: SPI ${hex(f.data.spi)} reserved for ${f.data.protocol.toUpperCase()} to ${f.data.dst}${f.data.policyId ? ` (policy ${f.data.policyId})` : ''}`;
    case 'SaInstalled': {
      const d = f.data;
      return `installed: ${d.direction} ${d.protocol.toUpperCase()} SPI ${hex(d.spi)}, ${d.mode} mode${d.tunnel ? ` ${d.tunnel.src} → ${d.tunnel.dst}` : ''}${d.policyId ? `, policy ${d.policyId}` : ''}${d.ikeSaId ? `, IKE SA ${d.ikeSaId}` : ''}`;
    }
    case 'SaUsageCheckpointed':
      return `usage: ${f.data.packets} packets, ${f.data.bytes} bytes`;
    case 'SaSoftExpired':
      return `soft lifetime reached (${f.data.limit}) after ${f.data.usage.packets} packets: rekey due`;
    case 'RekeyStarted':
      return f.data.initiator === 'peer' ? `rekey started by the peer: successor ${f.data.newSaId}` : `rekey started: successor ${f.data.newSaId} (jitter ${(f.data.jitterMs / 1000).toFixed(1)} s)`;
    case 'RekeyCompleted':
      return f.data.drainMs > 0 ? `replaced by ${f.data.newSaId}; it still receives for ${(f.data.drainMs / 1000).toFixed(1)} s (make-before-break)` : `replaced by ${f.data.newSaId}, which now carries the traffic`;
    case 'SaSequenceExhausted':
      return 'sequence numbers exhausted: no more packets may be sent (RFC 4303 §3.3.3)';
    case 'SaOffloaded':
      return `offloaded to ${f.data.nic} (handle ${f.data.handle})`;
    case 'SaOffloadRejected':
      return `kept in software: ${f.data.nic} refused (${f.data.reason})`;
    case 'SaDeleteRequestedByNic':
      return `${f.data.nic} asked for deletion (SaDeleteReq)`;
    case 'SaHardExpired':
      return `hard lifetime reached (${f.data.limit}) after ${f.data.usage.packets} packets, ${f.data.usage.bytes} bytes`;
    case 'SaMovedToIkeSa':
      return `moved to IKE SA ${f.data.toIkeSaId}${f.data.fromIkeSaId ? ` (its IKE SA ${f.data.fromIkeSaId} was rekeyed)` : ''}`;
    case 'SaDeleted':
      return `deleted: ${DELETE_REASONS[f.data.reason] ?? f.data.reason}`;
    default:
      return (fact as Fact).type;
  }
}

const DELETE_REASONS: Record<string, string> = {
  operator: 'by the operator',
  peer: 'the peer sent a DELETE',
  hardExpired: 'hard lifetime reached',
  rekeyed: 'replaced by its successor after the drain period',
  seqExhausted: 'sequence numbers exhausted',
  nicRequest: 'the NIC asked for it (SaDeleteReq)',
  acquireFailed: 'negotiation failed',
  ikeSaDeleted: 'its IKE SA was deleted (RFC 7296 §1.4.1)',
  rekeyCollision: 'both peers rekeyed its SA at once; the SA made with the lowest nonce goes (RFC 7296 §2.8.1)',
};

/**
 * The timeline of one SA from a log: every fact of stream `sa-<id>` in order, described.
 *
 * @example
 * for (const e of saTimeline(log, '7f3a')) console.log(e.at, e.summary);
 */
export function saTimeline(log: Iterable<LoggedFact>, saId: string): TimelineEntry[] {
  const stream = `sa-${saId}`;
  const out: TimelineEntry[] = [];
  for (const { streamName, position, fact } of log) {
    if (streamName !== stream) continue;
    const e: TimelineEntry = { at: fact.meta.at, position, type: fact.type, summary: describeSaFact(fact) };
    if (fact.meta.causationId) e.causationId = fact.meta.causationId;
    if (fact.meta.correlationId) e.correlationId = fact.meta.correlationId;
    out.push(e);
  }
  return out;
}
