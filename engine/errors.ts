/**
 * The one error class everything in ipsec-es throws (DESIGN §6). Per-packet failures are
 * values (see `DropReason`), never exceptions; an `IpsecError` means misuse, a broken rule or a
 * failing port. Misuse at a public boundary throws `TypeError`/`RangeError` naming the argument.
 *
 * @example
 * throw new IpsecError('sa.ruleViolation', 'SA sa-1 is already installed');
 */
export class IpsecError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IpsecError';
  }
}

/**
 * Throws a `RangeError` naming the argument unless `ok`.
 *
 * @example
 * requireRange(key.length === 16, 'key', `must be 16 bytes, got ${key.length}`);
 */
export function requireRange(ok: boolean, argument: string, rule: string): asserts ok {
  if (!ok) throw new RangeError(`${argument}: ${rule}`);
}

/**
 * A `RangeError` naming the argument, for hot paths: `if (!ok) throw rangeError(...)` builds
 * its message only when it is thrown, where `requireRange(ok, ..., \`...\`)` builds it every call.
 *
 * @example
 * if (src.length !== 4) throw rangeError('src', `must be 4 octets, got ${src.length}`);
 */
export function rangeError(argument: string, rule: string): RangeError {
  return new RangeError(`${argument}: ${rule}`);
}
