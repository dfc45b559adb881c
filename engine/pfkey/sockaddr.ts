/**
 * `struct sockaddr_in` / `struct sockaddr_in6` inside PF_KEY extensions (RFC 2367 §2.3.4;
 * Linux af_key.c `pfkey_sockaddr_fill`, `verify_address_len`, `parse_sockaddr_pair`).
 */

import { AF_INET, AF_INET6 } from './constants.js';
import { getField, setField, SOCKADDR_IN6_L, SOCKADDR_IN_L } from './layout.js';
import type { SockAddr } from './types.js';
import { rangeError } from '../errors.js';

/** Octets of the sockaddr for a family (16 or 28). */
export function sockaddrLength(addr: SockAddr): number {
  return addr.family === 'inet' ? SOCKADDR_IN_L.size : SOCKADDR_IN6_L.size;
}

/** Writes `addr` at `at` (the caller zeroed and sized the buffer). Returns octets written. */
export function writeSockaddr(v: DataView, bytes: Uint8Array, at: number, addr: SockAddr, argument: string): number {
  if (addr.family === 'inet') {
    if (!(addr.address instanceof Uint8Array) || addr.address.length !== 4) {
      throw rangeError(`${argument}.address`, 'must be 4 octets for inet');
    }
    const f = SOCKADDR_IN_L.fields;
    setField(v, at, f.sin_family, AF_INET);
    setField(v, at, f.sin_port, checkU16(addr.port, `${argument}.port`));
    bytes.set(addr.address, at + f.sin_addr[0]);
    return SOCKADDR_IN_L.size;
  }
  if (addr.family !== 'inet6') throw rangeError(`${argument}.family`, `must be 'inet' or 'inet6'`);
  if (!(addr.address instanceof Uint8Array) || addr.address.length !== 16) {
    throw rangeError(`${argument}.address`, 'must be 16 octets for inet6');
  }
  const f = SOCKADDR_IN6_L.fields;
  setField(v, at, f.sin6_family, AF_INET6);
  setField(v, at, f.sin6_port, checkU16(addr.port, `${argument}.port`));
  setField(v, at, f.sin6_flowinfo, checkU32(addr.flowinfo ?? 0, `${argument}.flowinfo`));
  bytes.set(addr.address, at + f.sin6_addr[0]);
  setField(v, at, f.sin6_scope_id, checkU32(addr.scopeId ?? 0, `${argument}.scopeId`));
  return SOCKADDR_IN6_L.size;
}

export type SockaddrRead = { ok: true; addr: SockAddr; length: number } | { ok: false; message: string; offset: number };

/**
 * Reads the sockaddr at `at`, with `avail` octets available to it. Unknown families and
 * truncation are values, never exceptions; `container` is the offset reported when not even
 * `sa_family` is there. The result's `address` is a copy.
 */
export function readSockaddr(v: DataView, bytes: Uint8Array, at: number, avail: number, container: number): SockaddrRead {
  if (avail < 2) return { ok: false, message: 'sockaddr truncated before sa_family', offset: container };
  const family = getField(v, at, SOCKADDR_IN_L.fields.sin_family);
  if (family === AF_INET) {
    if (avail < SOCKADDR_IN_L.size) return { ok: false, message: `sockaddr_in needs 16 octets, ${avail} left`, offset: at };
    const f = SOCKADDR_IN_L.fields;
    const a = at + f.sin_addr[0];
    return {
      ok: true,
      length: SOCKADDR_IN_L.size,
      addr: { family: 'inet', address: bytes.slice(a, a + 4), port: getField(v, at, f.sin_port) },
    };
  }
  if (family === AF_INET6) {
    if (avail < SOCKADDR_IN6_L.size) return { ok: false, message: `sockaddr_in6 needs 28 octets, ${avail} left`, offset: at };
    const f = SOCKADDR_IN6_L.fields;
    const a = at + f.sin6_addr[0];
    const addr: SockAddr = { family: 'inet6', address: bytes.slice(a, a + 16), port: getField(v, at, f.sin6_port) };
    const flowinfo = getField(v, at, f.sin6_flowinfo);
    const scopeId = getField(v, at, f.sin6_scope_id);
    if (flowinfo !== 0) addr.flowinfo = flowinfo;
    if (scopeId !== 0) addr.scopeId = scopeId;
    return { ok: true, length: SOCKADDR_IN6_L.size, addr };
  }
  return { ok: false, message: `unsupported sa_family ${family} (AF_INET ${AF_INET}, AF_INET6 ${AF_INET6} only)`, offset: at };
}

/** The sa_family number of a family name. */
export function familyNumber(addr: SockAddr): number {
  return addr.family === 'inet' ? AF_INET : AF_INET6;
}

/**
 * An IPv4 sockaddr.
 *
 * @example
 * inet([192, 0, 2, 1]) // { family: 'inet', address: Uint8Array[192,0,2,1], port: 0 }
 */
export function inet(address: ArrayLike<number>, port = 0): SockAddr {
  return { family: 'inet', address: Uint8Array.from(address), port };
}

/**
 * An IPv6 sockaddr.
 *
 * @example
 * inet6(new Uint8Array(16), 500)
 */
export function inet6(address: ArrayLike<number>, port = 0): SockAddr {
  return { family: 'inet6', address: Uint8Array.from(address), port };
}

export function checkU8(n: number, argument: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw rangeError(argument, `must be an integer 0..255, got ${n}`);
  return n;
}
export function checkU16(n: number, argument: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw rangeError(argument, `must be an integer 0..65535, got ${n}`);
  return n;
}
export function checkU32(n: number, argument: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw rangeError(argument, `must be an integer 0..2^32-1, got ${n}`);
  return n;
}
export function checkU64(n: bigint, argument: string): bigint {
  if (typeof n !== 'bigint' || n < 0n || n > 0xffffffffffffffffn) throw rangeError(argument, `must be a bigint 0..2^64-1, got ${String(n)}`);
  return n;
}
