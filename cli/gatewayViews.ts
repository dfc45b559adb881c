/**
 * What a running gateway tells the outside: the rows of `list-sas`, `list-pols` and `stats`
 * (the control socket's answers) and the Prometheus metric families, all read from the live
 * gateway at the moment they are asked for.
 */
import type { Gateway } from '../machines/gateway/gateway.js';
import type { SaState } from '../engine/aggregates/sa.js';
import { ENCR_SPECS, INTEG_SPECS } from '../engine/crypto/suites.js';
import type { EncrId } from '../engine/crypto/transformIds.js';
import { DROP_REASONS } from '../engine/dropReasons.js';
import { formatIpAddress } from '../engine/policy/ipText.js';
import type { AddressSelector, Policy, PortSelector, ProtocolSelector } from '../engine/spd/types.js';
import { Histogram, type MetricFamily } from '../adapters/metrics/prometheus.js';

/** The suite of an SA or proposal in strongSwan's words (`aes128gcm16`, `aes256-sha256`). */
export function suiteName(encr: number | undefined, encrKeyBits: number | undefined, integ: number): string {
  const spec = encr === undefined ? undefined : ENCR_SPECS[encr as EncrId];
  const e = spec ? spec.name(encrKeyBits ?? spec.keyBits[0]!) : encr === undefined ? '' : `encr${encr}`;
  const i = integ === 0 ? '' : (INTEG_SPECS[integ as 1]?.name ?? `integ${integ}`);
  return [e, i].filter(Boolean).join('-');
}

/**
 * One `list-sas` row: the folded state plus the live usage from the data path.
 *
 * @example
 * gateway.saIds().map((id) => saRow(gateway, id))
 */
export function saRow(gateway: Gateway, id: string): Record<string, unknown> {
  const s = gateway.state(id) as SaState;
  const p = s.params;
  const live = gateway.sad.get(id)?.sa?.usage;
  return {
    id, status: s.status,
    ...(p ? { direction: p.direction, spi: p.spi, mode: p.mode, ...(p.tunnel ? { tunnel: p.tunnel } : {}), dst: p.dst, suite: suiteName(p.encr, p.encrKeyBits, p.integ), ...(p.policyId ? { policyId: p.policyId } : {}), ...(p.pairedSaId ? { pairedSaId: p.pairedSaId } : {}), ...(p.natT ? { natT: p.natT } : {}) } : {}),
    ...(s.installedAt ? { installedAt: s.installedAt } : {}),
    usage: { packets: live?.packets ?? s.usage.packets, bytes: live?.bytes ?? s.usage.bytes },
    ...(s.offload ? { offload: `offloaded to ${s.offload.nic}` } : s.offloadRejected ? { offload: `software (${s.offloadRejected.nic}: ${s.offloadRejected.reason})` } : {}),
    ...(s.replacedBy ? { replacedBy: s.replacedBy.newSaId } : {}),
    ...(s.deleted ? { deleted: s.deleted.reason, deletedAt: s.deleted.at } : {}),
  };
}

const addressText = (a: AddressSelector) => (a.kind === 'any' ? 'any' : a.kind === 'opaque' ? 'opaque' : a.kind === 'single' ? formatIpAddress(a.address) : a.kind === 'prefix' ? `${formatIpAddress(a.address)}/${a.length}` : `${formatIpAddress(a.from)}-${formatIpAddress(a.to)}`);
const portText = (p: PortSelector) => (p.kind === 'any' ? '' : p.kind === 'opaque' ? ':opaque' : p.from === p.to ? `:${p.from}` : `:${p.from}-${p.to}`);
const protoText = (p: ProtocolSelector) => (p.kind === 'any' ? '' : p.kind === 'opaque' ? ' proto opaque' : ` proto ${p.value}`);

/**
 * One `list-pols` row: selectors as text (`10.1.0.0/24 → 10.2.0.0/24 proto 6`), the SA template.
 *
 * @example
 * gateway.spd.list().map(policyRow)
 */
export function policyRow(p: Policy): Record<string, unknown> {
  const t = p.protect;
  return {
    id: p.id, direction: p.direction, action: p.action, priority: p.priority,
    selectors: p.selectors.map((s) => `${addressText(s.localAddress)}${portText(s.localPort)} → ${addressText(s.remoteAddress)}${portText(s.remotePort)}${protoText(s.protocol)}`),
    ...(t ? { protect: `${t.protocol.toUpperCase()} ${t.mode}${t.tunnel ? ` ${formatIpAddress(t.tunnel.src)} → ${formatIpAddress(t.tunnel.dst)}` : ''} ${t.protocol === 'esp' ? t.proposals.map((q) => suiteName(q.encr, q.encrKeyBits, q.integ)).join(',') : t.proposals.map((i) => suiteName(undefined, undefined, i)).join(',')}${t.offload && t.offload !== 'none' ? ` offload ${t.offload}` : ''}`.trim() } : {}),
  };
}

const nonZero = (d: Record<string, number>) => Object.fromEntries(Object.entries(d).filter(([, n]) => n > 0));

/**
 * The `stats` answer: drops by reason (globally, per SA), usage per SA.
 *
 * @example
 * statsOf(gateway, { tun: tun.stats() })
 */
export function statsOf(gateway: Gateway, interfaces: Record<string, unknown>, saId?: string): Record<string, unknown> {
  const ids = saId === undefined ? gateway.saIds() : [saId];
  if (saId !== undefined && gateway.state(saId) === undefined) throw new Error(`no SA ${saId} (ipsec-es list-sas shows the ids)`);
  return {
    drops: nonZero(gateway.drops.global),
    perSa: ids.map((id) => { const row = saRow(gateway, id); return { id, status: row.status, usage: row.usage, drops: nonZero(gateway.drops.forSa(id)) }; }),
    interfaces,
  };
}

/** Event-store append latency, seconds: 100 µs to 1 s (an O_DSYNC write is ~0.1–10 ms). */
export const APPEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What the metrics need besides the gateway. */
export interface MetricsSources {
  appendLatency: Histogram;
  appendedEvents: () => number;
  logPosition: () => bigint;
  counters: Record<string, Record<string, unknown>>;
}

/**
 * The gateway's metric families, read now.
 *
 * @example
 * serveMetrics({ port: 9479, collect: () => gatewayMetrics(gateway, sources) })
 */
export function gatewayMetrics(gateway: Gateway, m: MetricsSources): MetricFamily[] {
  const rows = gateway.saIds().map((id) => ({ id, row: saRow(gateway, id) }));
  const sa = (id: string, row: Record<string, unknown>) => ({ sa: id, direction: String(row.direction ?? 'unknown'), spi: row.spi === undefined ? '' : `0x${(row.spi as number).toString(16).padStart(8, '0')}` });
  const states = new Map<string, number>();
  for (const s of ['larval', 'mature', 'rekeying', 'dying', 'dead']) states.set(s, 0);
  for (const { row } of rows) states.set(String(row.status), (states.get(String(row.status)) ?? 0) + 1);
  const drops: MetricFamily['samples'] = [];
  for (const { id, row } of rows) for (const [reason, n] of Object.entries(nonZero(gateway.drops.forSa(id)))) drops.push({ labels: { ...sa(id, row), reason }, value: n });
  const interfaceSamples: MetricFamily['samples'] = [];
  for (const [iface, c] of Object.entries(m.counters)) for (const [counter, v] of Object.entries(c)) if (typeof v === 'number') interfaceSamples.push({ labels: { interface: iface, counter }, value: v });
  return [
    { name: 'ipsec_es_sas', help: 'SAs by lifecycle state (dead ones until the process restarts)', type: 'gauge', samples: [...states].map(([state, value]) => ({ labels: { state }, value })) },
    { name: 'ipsec_es_sa_packets_total', help: 'Packets processed by an SA (dead ones until the process restarts)', type: 'counter', samples: rows.map(({ id, row }) => ({ labels: sa(id, row), value: (row.usage as { packets: number }).packets })) },
    { name: 'ipsec_es_sa_bytes_total', help: 'Bytes processed by an SA (dead ones until the process restarts)', type: 'counter', samples: rows.map(({ id, row }) => ({ labels: sa(id, row), value: (row.usage as { bytes: number }).bytes })) },
    { name: 'ipsec_es_drops_total', help: 'Packets dropped, by reason (all SAs and none)', type: 'counter', samples: DROP_REASONS.map((reason) => ({ labels: { reason }, value: gateway.drops.global[reason] })) },
    { name: 'ipsec_es_sa_drops_total', help: 'Packets dropped that could be tied to an SA, by SA and reason', type: 'counter', samples: drops },
    { name: 'ipsec_es_interface', help: 'TUN, UDP, wire and NIC counters as the adapters keep them', type: 'gauge', samples: interfaceSamples },
    { name: 'ipsec_es_store_appended_events_total', help: 'Events this process appended to its event store', type: 'counter', samples: [{ value: m.appendedEvents() }] },
    { name: 'ipsec_es_store_position', help: 'Global position of the last event in the log', type: 'gauge', samples: [{ value: Number(m.logPosition()) }] },
    { name: 'ipsec_es_store_append_seconds', help: 'Event-store append latency (until durable)', type: 'histogram', samples: m.appendLatency.samples() },
  ];
}
