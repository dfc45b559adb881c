/** The scapy AH vectors (test/vectors/ah-scapy.json, made by gen-ah-scapy.py) and SAs to run them. */

import { createAhSa, type AhSaConfig } from '../../../engine/ah/ahSa.js';
import type { IntegId } from '../../../engine/crypto/transformIds.js';
import { hex, loadVectors } from '../../vectors/load.js';
import type { BACKENDS } from './fixtures.js';

/** One case of ah-scapy.json (see gen-ah-scapy.py). */
export interface ScapyAhVector {
  id: string;
  integ: string;
  integ_id: IntegId;
  key: string;
  spi: number;
  seq_hi: number;
  seq_lo: number;
  esn: boolean;
  mode: 'tunnel' | 'transport';
  ttl: number;
  inner: string;
  packet: string;
  tunnel?: { src: string; dst: string };
  /** Where scapy departs from RFC 4302: the packet the RFC asks for. */
  rfc_packet?: string;
  disagreement?: string;
}

export const file = loadVectors<{ source: { implementation: string }; vectors: ScapyAhVector[] }>('ah-scapy.json');
export const SCAPY_VECTORS = file.vectors;

/** The 64-bit number one below (hi, lo): where the sender's counter resumes, the receiver's window top. */
export function before(hi: number, lo: number): { hi: number; lo: number } {
  return lo === 0 ? { hi: hi - 1, lo: 0xffffffff } : { hi, lo: lo - 1 };
}

/** SA configuration of a vector, without direction and id. */
export function vectorConfig(v: ScapyAhVector, backend: (typeof BACKENDS)[number]): Omit<AhSaConfig, 'id' | 'direction'> {
  return {
    spi: v.spi,
    integ: v.integ_id,
    key: hex(v.key),
    backend,
    mode: v.mode,
    esn: v.esn,
    ttl: v.ttl,
    ...(v.tunnel ? { tunnel: { src: hex(v.tunnel.src), dst: hex(v.tunnel.dst) } } : {}),
  };
}

/** An inbound SA whose window top sits just below the vector's sequence number. */
export function inboundFor(v: ScapyAhVector, backend: (typeof BACKENDS)[number]) {
  const top = before(v.seq_hi, v.seq_lo);
  const fresh = top.hi === 0 && top.lo === 0;
  return createAhSa({ ...vectorConfig(v, backend), id: 'in', direction: 'inbound', replayState: { topHi: top.hi, topLo: top.lo, bitmap: [fresh ? 0 : 1, 0, 0, 0] } });
}
