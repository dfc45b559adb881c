import { describe, expect, it } from 'vitest';
import { ahDecapsulate } from '../../../engine/ah/ahDecapsulate.js';
import { ahEncapsulate } from '../../../engine/ah/ahEncapsulate.js';
import { createAhSa } from '../../../engine/ah/ahSa.js';
import { toHex } from '../../../engine/bytes.js';
import { DropCounters } from '../../../engine/dropReasons.js';
import { hex } from '../../vectors/load.js';
import { BACKENDS } from './fixtures.js';
import { SCAPY_VECTORS, before, file, inboundFor, vectorConfig } from './scapyVectors.js';

describe('the scapy vector file', () => {
  it('names its source and covers every HMAC, both modes, both IP versions, with and without ESN', () => {
    expect(file.source.implementation).toMatch(/^scapy \d/);
    expect(new Set(SCAPY_VECTORS.map((v) => v.integ_id))).toEqual(new Set([1, 2, 12, 13, 14]));
    for (const want of ['v4-transport', 'v4-transport-options', 'v4-tunnel', 'v6-transport-hbh', 'v6-tunnel', 'v4-transport-esn', 'v6-tunnel-esn']) {
      expect(SCAPY_VECTORS.filter((v) => v.id.endsWith('/' + want))).toHaveLength(5);
    }
  });
});

describe.each(BACKENDS)('AH packets built by scapy, %s back end', (backend) => {
  it.each(SCAPY_VECTORS.map((v) => [v.id, v] as const))('%s: ahEncapsulate gives the same bytes', (_id, v) => {
    const out = createAhSa({ ...vectorConfig(v, backend), id: 'out', direction: 'outbound', sequenceStart: before(v.seq_hi, v.seq_lo) });
    const r = ahEncapsulate(hex(v.inner), out);
    expect(r.ok ? toHex(r.packet) : r.reason).toBe(v.rfc_packet ?? v.packet);
    expect(r.ok && [r.seqHi, r.seqLo]).toEqual([v.seq_hi, v.seq_lo]);
  });

  it.each(SCAPY_VECTORS.map((v) => [v.id, v] as const))('%s: ahDecapsulate accepts it once and returns the original', (_id, v) => {
    const inn = inboundFor(v, backend);
    const drops = new DropCounters();
    const r = ahDecapsulate(hex(v.rfc_packet ?? v.packet), () => inn, drops);
    expect(r.ok ? toHex(r.packet) : r.reason).toBe(v.inner);
    expect(r.ok && [r.seqHi, r.seqLo]).toEqual([v.seq_hi, v.seq_lo]);
    expect(inn.usage.packets).toBe(1);
    const again = ahDecapsulate(hex(v.rfc_packet ?? v.packet), () => inn, drops);
    expect(again.ok ? 'ok' : again.reason).toBe('replayed');
    expect(drops.forSa('in').replayed).toBe(1);
  });
});

describe('where scapy and RFC 4302 disagree', () => {
  const lsrr = SCAPY_VECTORS.filter((v) => v.disagreement !== undefined);

  it('the disagreement is the LSRR destination only, and is noted', () => {
    expect(lsrr.map((v) => v.id.split('/')[1])).toEqual(Array(5).fill('v4-transport-lsrr'));
  });

  it.each(lsrr.map((v) => [v.id, v] as const))('%s: scapy ICV (destination as sent) is refused, nothing else differs', (_id, v) => {
    const a = hex(v.packet);
    const b = hex(v.rfc_packet!);
    const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
    const ihl = (a[0]! & 0x0f) * 4;
    expect(Math.min(...differing)).toBeGreaterThanOrEqual(ihl + 12); // only ICV octets differ
    const r = ahDecapsulate(a, () => inboundFor(v, 'node'));
    expect(r.ok ? 'ok' : r.reason).toBe('authFailed');
  });
});
