import { requireRange } from '../errors.js';
import type { IpsecMode, SaDirection, TunnelEndpoints } from './types.js';

/** The configuration every SA (ESP or AH) shares. */
export interface SaCommonConfig {
  id: string;
  direction: SaDirection;
  spi: number;
  mode: IpsecMode;
  tunnel?: TunnelEndpoints;
  ttl?: number;
  esn?: boolean;
}

/**
 * Checks what ESP and AH SAs have in common; throws a `RangeError` naming the argument.
 * SPIs 0..255 are reserved (RFC 4303 §2.1, RFC 4302 §2.4).
 *
 * @example
 * validateSaCommon(config);
 */
export function validateSaCommon(config: SaCommonConfig): void {
  requireRange(typeof config.id === 'string' && config.id.length > 0, 'id', 'must be a non-empty string');
  requireRange(config.direction === 'inbound' || config.direction === 'outbound', 'direction', `must be 'inbound' or 'outbound', got ${config.direction}`);
  requireRange(Number.isInteger(config.spi) && config.spi >= 256 && config.spi <= 0xffffffff, 'spi', `must be an integer in 256..2^32-1 (RFC 4303 §2.1, RFC 4302 §2.4), got ${config.spi}`);
  requireRange(config.mode === 'tunnel' || config.mode === 'transport', 'mode', `must be 'tunnel' or 'transport', got ${config.mode}`);
  if (config.mode === 'tunnel') {
    const t = config.tunnel;
    requireRange(t !== undefined, 'tunnel', 'endpoints are required in tunnel mode');
    requireRange((t.src.length === 4 || t.src.length === 16) && t.src.length === t.dst.length, 'tunnel', 'src and dst must both be IPv4 (4 octets) or both IPv6 (16)');
  }
  requireRange(config.ttl === undefined || (Number.isInteger(config.ttl) && config.ttl >= 1 && config.ttl <= 255), 'ttl', `must be 1..255, got ${config.ttl}`);
  requireRange(config.esn === undefined || typeof config.esn === 'boolean', 'esn', `must be a boolean, got ${config.esn}`);
}
