/**
 * Simultaneous CHILD SA rekeying (RFC 7296 §2.8.1): when both peers rekey the same SA at once,
 * both exchanges complete, and "the SA created with the lowest of the four nonces used in the
 * two exchanges" is redundant and is deleted. Nonces compare as unsigned big-endian octet
 * strings, shorter first on a common prefix.
 */

/** -1, 0 or 1: `a` below, equal to, or above `b` as nonces. */
export function compareNonces(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Which of two colliding rekeys loses: the one whose exchange used the lowest nonce of the four.
 *
 * @example
 * rekeyCollisionLoser({ ni: n1, nr: n2 }, { ni: n3, nr: n4 }) // 'first' | 'second'
 */
export function rekeyCollisionLoser(first: { ni: Uint8Array; nr: Uint8Array }, second: { ni: Uint8Array; nr: Uint8Array }): 'first' | 'second' {
  const low = (x: { ni: Uint8Array; nr: Uint8Array }) => (compareNonces(x.ni, x.nr) <= 0 ? x.ni : x.nr);
  return compareNonces(low(first), low(second)) <= 0 ? 'first' : 'second';
}
