import type { Fact } from './fact.js';

/** Turns data of schema version v into version v + 1. */
export type Upcaster = (data: unknown) => unknown;

/**
 * The upcaster path of each fact type: `chain[v - 1]` lifts version v to v + 1, so a fact written
 * at any past version reads as the current one. Writers always write the current version.
 */
export class UpcasterRegistry {
  readonly #chains = new Map<string, Upcaster[]>();

  /** Registers the step from `fromVersion` to `fromVersion + 1`; steps must be added in order. */
  register(type: string, fromVersion: number, step: Upcaster): this {
    const chain = this.#chains.get(type) ?? [];
    if (fromVersion !== chain.length + 1) throw new RangeError(`fromVersion: the next step for ${type} lifts version ${chain.length + 1}, got ${fromVersion}`);
    chain.push(step);
    this.#chains.set(type, chain);
    return this;
  }

  /** The version facts of this type are written at now. */
  currentVersion(type: string): number {
    return (this.#chains.get(type)?.length ?? 0) + 1;
  }

  /**
   * The fact as the current schema reads it. A fact newer than this code knows is returned as
   * is (a newer writer); folds ignore what they do not understand.
   *
   * @example
   * const current = upcasters.upcast(recorded);
   */
  upcast<F extends Fact>(f: F): F {
    const chain = this.#chains.get(f.type);
    if (!chain) return f;
    let data = f.data;
    let v = f.meta.schemaVersion;
    while (v >= 1 && v <= chain.length) data = chain[v++ - 1]!(data);
    return v === f.meta.schemaVersion ? f : { ...f, data, meta: { ...f.meta, schemaVersion: v } };
  }
}

/** The registry of this release: every fact type is at version 1, so there are no steps yet. */
export const upcasters = new UpcasterRegistry();
