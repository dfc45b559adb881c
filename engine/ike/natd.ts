/**
 * NAT detection (RFC 7296 §2.23): the NAT_DETECTION_SOURCE_IP / _DESTINATION_IP notifications
 * carry SHA-1(SPIi | SPIr | IP address | port), and comparing them with the addresses of the
 * packet that carried them tells which side, if any, is behind a NAT. Pure: addresses and ports
 * are arguments. SHA-1 comes from the chosen back end (node:crypto or @noble/hashes).
 */

import { createHash } from 'node:crypto';
import { sha1 } from '@noble/hashes/legacy.js';
import { constantTimeEqual } from '../bytes.js';
import type { CryptoBackendName } from '../crypto/types.js';
import { concatBytes, requireBytes, requireUint, uintBytes } from './codec.js';
import { IKE_SPI_LENGTH, NOTIFY_TYPE } from './constants.js';
import type { IkePayload, NotifyPayload } from './types.js';

/** An IP address (4 or 16 octets) and UDP port. */
export interface Endpoint {
  address: Uint8Array;
  port: number;
}

/** The SPIs "in the order they appear in the header" (§2.23): SPIr is zero in the first request. */
export interface NatdSpis {
  spiI: Uint8Array;
  spiR: Uint8Array;
}

/**
 * SHA-1(SPIi | SPIr | IP address | port), port as two octets in network order (§2.23).
 *
 * @example
 * natDetectionHash({ spiI, spiR }, { address: Uint8Array.of(192, 0, 2, 1), port: 500 })
 */
export function natDetectionHash(spis: NatdSpis, endpoint: Endpoint, backend: CryptoBackendName = 'node'): Uint8Array {
  requireBytes(spis.spiI, 'spis.spiI', IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  requireBytes(spis.spiR, 'spis.spiR', IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  requireBytes(endpoint.address, 'endpoint.address', 4, 16);
  if (endpoint.address.length !== 4 && endpoint.address.length !== 16) throw new RangeError(`endpoint.address: must be 4 or 16 octets, got ${endpoint.address.length}`);
  requireUint(endpoint.port, 0xffff, 'endpoint.port');
  const input = concatBytes([spis.spiI, spis.spiR, endpoint.address, uintBytes(endpoint.port, 2)]);
  if (backend === 'noble') return sha1(input);
  // 'native' runs ESP in C; everything else of it is node:crypto's.
  if (backend !== 'node' && backend !== 'native') throw new RangeError(`backend: must be 'node', 'native' or 'noble', got ${String(backend)}`);
  return new Uint8Array(createHash('sha1').update(input).digest());
}

const notify = (notifyType: number, data: Uint8Array): NotifyPayload => ({ type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType, data });

/**
 * The two notifications an IKE_SA_INIT message carries "just after the Ni and Nr payloads"
 * (§2.23): SOURCE_IP hashes where the packet is sent from, DESTINATION_IP where it is sent to.
 *
 * @example
 * const [src, dst] = natDetectionNotifies({ spiI, spiR: ZERO_SPI }, local, remote);
 * payloads.push(src, dst);
 */
export function natDetectionNotifies(spis: NatdSpis, source: Endpoint, destination: Endpoint, backend: CryptoBackendName = 'node'): [NotifyPayload, NotifyPayload] {
  return [
    notify(NOTIFY_TYPE.NAT_DETECTION_SOURCE_IP, natDetectionHash(spis, source, backend)),
    notify(NOTIFY_TYPE.NAT_DETECTION_DESTINATION_IP, natDetectionHash(spis, destination, backend)),
  ];
}

/** What a received IKE_SA_INIT message's NAT detection notifications say. */
export interface NatDetection {
  /** Both notification types were present: the peer supports NAT traversal. */
  supported: boolean;
  /** No SOURCE_IP hash matched the packet's source: the sender is behind a NAT (§2.23). */
  peerBehindNat: boolean;
  /** The DESTINATION_IP hash did not match the packet's destination: we are behind a NAT (§2.23). */
  selfBehindNat: boolean;
}

/**
 * Compares the NAT detection notifications among `payloads` with the outer addresses of the
 * packet that carried them (`packetSource` is the peer as we saw it, `packetDestination` us).
 * §2.23: a SOURCE_IP mismatch "with all of the NAT_DETECTION_SOURCE_IP payloads received" means
 * the sender is behind a NAT; a DESTINATION_IP mismatch means the receiver is. Without the
 * notifications, `supported` is false and neither side is reported behind a NAT.
 *
 * @example
 * const nat = detectNat(header, r.message.payloads, { address: srcIp, port: srcPort }, { address: myIp, port: 500 });
 * if (nat.peerBehindNat || nat.selfBehindNat) switchToPort4500();
 */
export function detectNat(spis: NatdSpis, payloads: readonly IkePayload[], packetSource: Endpoint, packetDestination: Endpoint, backend: CryptoBackendName = 'node'): NatDetection {
  const sources: Uint8Array[] = [];
  const destinations: Uint8Array[] = [];
  for (const p of payloads) {
    if (p.type !== 'N') continue;
    if (p.notifyType === NOTIFY_TYPE.NAT_DETECTION_SOURCE_IP) sources.push(p.data);
    if (p.notifyType === NOTIFY_TYPE.NAT_DETECTION_DESTINATION_IP) destinations.push(p.data);
  }
  if (sources.length === 0 || destinations.length === 0) return { supported: false, peerBehindNat: false, selfBehindNat: false };
  const expectedSource = natDetectionHash(spis, packetSource, backend);
  const expectedDestination = natDetectionHash(spis, packetDestination, backend);
  return {
    supported: true,
    peerBehindNat: !sources.some((h) => constantTimeEqual(h, expectedSource)),
    selfBehindNat: !destinations.some((h) => constantTimeEqual(h, expectedDestination)),
  };
}
