/**
 * The file log's index of event ids, for idempotent retries: which version of a stream holds an
 * id. Each stream keeps its ids in version order (`StreamState.idList`); this table maps a 32-bit
 * hash of an id to (stream, version) slots, and every hit is confirmed by comparing the id itself,
 * so a hash collision costs one more probe, never a wrong answer.
 *
 * Why not a `Map` per stream: every append checks and adds its ids, and with hundreds of
 * thousands of ids a `Map` costs an entry object and a rehash per growth step in every stream.
 * Typed arrays, open addressing and linear probing cost about a third of that per id here
 * (measured with 64 streams of 15k fresh ids: ~0.25 µs against ~0.8 µs for has + set), and keep
 * the garbage collector's old space small. The hash is seeded per process (ids come from the
 * application, but a seed costs nothing).
 */

/** What the index needs of a stream. */
export interface IdHolder {
  /** Its position in `IdIndex`'s stream numbering. */
  ordinal: number;
  /** Its event ids in version order: version v's id is `idList[v - 1]`, pending appends included. */
  idList: string[];
}

const SEED = (Math.random() * 0x100000000) | 0;
const MIN_SLOTS = 1024;

/** A nonzero 32-bit hash of `s` (FNV-1a over UTF-16 code units, then a murmur3 finaliser). */
export function idHash(s: string): number {
  let h = SEED ^ s.length;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 1; // 0 marks an empty slot
}

export class IdIndex {
  private keys = new Int32Array(MIN_SLOTS);
  private owner = new Int32Array(MIN_SLOTS);
  private version = new Float64Array(MIN_SLOTS);
  private used = 0;
  /** Streams by ordinal. */
  private readonly holders: IdHolder[] = [];

  /** Numbers a new stream; call once per stream, before any of its ids are added. */
  register(holder: IdHolder): void {
    holder.ordinal = this.holders.length;
    this.holders.push(holder);
  }

  /** The version of `stream` whose event has id `id` (`hash` is `idHash(id)`), or undefined. */
  versionOf(stream: IdHolder, id: string, hash = idHash(id)): number | undefined {
    const keys = this.keys;
    const mask = keys.length - 1;
    const ordinal = stream.ordinal;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === 0) return undefined;
      if (k === hash && this.owner[i] === ordinal) {
        const v = this.version[i]!;
        if (stream.idList[v - 1] === id) return v;
      }
    }
  }

  /** Records that version `version` of `stream` has id `hash`'s event (the id is `stream.idList[version - 1]`). */
  add(stream: IdHolder, hash: number, version: number): void {
    if (2 * (this.used + 1) > this.keys.length) this.grow(); // load factor ≤ 0.5: short probe runs
    this.put(hash, stream.ordinal, version);
    this.used++;
  }

  private put(hash: number, ordinal: number, version: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let i = hash & mask;
    while (keys[i] !== 0) i = (i + 1) & mask;
    keys[i] = hash;
    this.owner[i] = ordinal;
    this.version[i] = version;
  }

  private grow(): void {
    const { keys, owner, version } = this;
    const slots = 2 * keys.length;
    this.keys = new Int32Array(slots);
    this.owner = new Int32Array(slots);
    this.version = new Float64Array(slots);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.put(keys[i]!, owner[i]!, version[i]!);
  }
}
