/**
 * Facts: past-tense, persisted, the source of truth (DESIGN §3). A fact is a type, its data and
 * metadata; time and ids are inputs recorded in it, so folding a log is deterministic.
 */

/** Metadata on every fact. `at` is an input (ISO 8601), never read from a clock in the engine. */
export interface FactMeta {
  /** Unique id: makes appends idempotent. */
  id: string;
  at: string;
  /** The data's schema version; older ones are upcast on read (see `upcast.ts`). */
  schemaVersion: number;
  /** The fact or command that caused this one. */
  causationId?: string;
  /** The conversation it belongs to (an acquire, a rekey, an IKE exchange). */
  correlationId?: string;
}

/** A fact with its metadata. */
export interface Fact<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
  meta: FactMeta;
}

/** What a command must bring so the facts it produces are reproducible: ids and time as inputs. */
export interface CommandContext {
  /** When the command is decided (ms since the epoch, from the Clock port). */
  nowMs: number;
  /** Fresh ids for the facts, one per fact, from the Random port (or deterministic in tests). */
  newId: () => string;
  causationId?: string;
  correlationId?: string;
}

/**
 * Wraps fact data with metadata from a command context.
 *
 * @example
 * const f = fact('SaDeleted', { reason: 'operator' }, ctx, 1);
 */
export function fact<Type extends string, Data>(type: Type, data: Data, ctx: CommandContext, schemaVersion = 1): Fact<Type, Data> {
  const meta: FactMeta = { id: ctx.newId(), at: new Date(ctx.nowMs).toISOString(), schemaVersion };
  if (ctx.causationId !== undefined) meta.causationId = ctx.causationId;
  if (ctx.correlationId !== undefined) meta.correlationId = ctx.correlationId;
  return { type, data, meta };
}
