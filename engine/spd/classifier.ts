/**
 * The SPD's packet classifier: the trees of ./cutTree.ts over the entries of ./entry.ts, packed
 * into typed arrays. Trees are walked in the order of their best entry; a lookup walks each to
 * one leaf and verifies that leaf's candidates exactly, best first, and stops at the first tree
 * whose best entry is no better than the match it has: the matching entry with the smallest
 * index (= order) wins. Heavily overlapping rule sets get a head band of trees over their
 * first rules (./priorityBand.ts), so most packets stop there. No cache: every lookup does the
 * full work.
 */

import { readU32 } from '../bytes.js';
import { buildTrees, type Node, SPLITS_V4, SPLITS_V6, type Tree } from './cutTree.js';
import { DIM_BITS_V4, DIM_BITS_V6, type Entry, extraMatches } from './entry.js';
import { headBand } from './priorityBand.js';
import type { Policy, SelectorFields } from './types.js';

/** Words per node header in `Packed.slots`, and the first word of a leaf's header. */
const SLOT = 4;
const LEAF = 0xff;
/** "No entry": larger than every entry index. */
const NONE = 0xffffffff;
/** `Packed.flags` bits. */
const EXTRA = 1;
const DEAD = 2;

/** Statistics of a built classifier, for benchmarks and tests. */
export interface ClassifierStats {
  trees: number;
  nodes: number;
  leaves: number;
  /** Candidate slots over all leaves (an entry counts once per leaf holding it). */
  leafEntries: number;
  maxLeaf: number;
  maxDepth: number;
  /** Entries in head bands (0: none), see ./priorityBand.ts. */
  head: number;
  /** Bytes of the typed arrays lookups read. */
  bytes: number;
}

/**
 * One family's trees flattened into 32-bit typed arrays, compact enough to stay in the CPU's
 * caches (about 1 MB for 10k rules). Entries are numbered in lookup order, so "better" is
 * "smaller index", and each entry's box is stored once, in `boxes` ([lo0, hi0, lo1, hi1, ...]
 * per entry). Every node is a SLOT-word header stored where its parent points: the children of
 * a node are the consecutive headers of a block, and the roots are slots 0..trees-1. Headers:
 *   - inner node: [dim | shift << 8, first slot of its children, block base, block last];
 *   - leaf: [LEAF, start, end, first]: `first` is its best candidate (NONE when empty), the
 *     others are `cand[start..end)`, ascending.
 */
class Packed {
  readonly dims: number;
  /** The smallest entry index of each tree, ascending: the walk's early exit. */
  readonly minIndex: Uint32Array;
  readonly slots: Uint32Array;
  readonly cand: Uint32Array;
  readonly boxes: Uint32Array;
  /** EXTRA: the box alone does not decide; DEAD: the policy was removed since the build. */
  readonly flags: Uint8Array;
  readonly entries: readonly Entry[];
  readonly stats: ClassifierStats;

  constructor(entries: readonly Entry[], trees: Tree[], dims: number, head: number) {
    this.dims = dims;
    this.entries = entries;
    const index = new Map<Entry, number>(entries.map((e, i) => [e, i]));
    const firstOfOrder = new Map<number, number>();
    entries.forEach((e, i) => firstOfOrder.has(e.order) || firstOfOrder.set(e.order, i));
    this.minIndex = Uint32Array.from(trees, (t) => firstOfOrder.get(t.minOrder)!);
    this.boxes = new Uint32Array(entries.length * 2 * dims);
    this.flags = new Uint8Array(entries.length);
    entries.forEach((e, i) => {
      this.boxes.set(e.box, i * 2 * dims);
      if (e.extra) this.flags[i] = EXTRA;
    });
    const stats: ClassifierStats = { trees: trees.length, nodes: 0, leaves: 0, leafEntries: 0, maxLeaf: 0, maxDepth: 0, head, bytes: 0 };
    // Breadth first: inner nodes (each once: they are never shared) and leaves (deduplicated).
    const inner: Node[] = [];
    const leaves = new Map<Node, number>();
    const kidsAt = new Map<Node, number>();
    let slotCount = trees.length;
    let candCount = 0;
    let level = trees.map((t) => t.root);
    for (let depth = 0; level.length > 0; depth++) {
      stats.maxDepth = depth;
      const next: Node[] = [];
      for (const n of level) {
        if (n.dim < 0) {
          if (leaves.has(n)) continue;
          leaves.set(n, candCount);
          candCount += Math.max(0, n.entries.length - 1);
          stats.maxLeaf = Math.max(stats.maxLeaf, n.entries.length);
          stats.leafEntries += n.entries.length;
        } else {
          inner.push(n);
          kidsAt.set(n, slotCount);
          slotCount += n.children.length;
          next.push(...n.children);
        }
      }
      level = next;
    }
    this.slots = new Uint32Array(slotCount * SLOT);
    this.cand = new Uint32Array(candCount);
    const header = (n: Node, slot: number): void => {
      const at = slot * SLOT;
      if (n.dim >= 0) {
        this.slots.set([n.dim | (n.shift << 8), kidsAt.get(n)!, n.base, n.base + n.size - 1], at);
      } else {
        const start = leaves.get(n)!;
        const ids = n.entries.map((e) => index.get(e)!);
        this.slots.set([LEAF, start, start + Math.max(0, ids.length - 1), ids[0] ?? NONE], at);
        this.cand.set(ids.slice(1), start);
      }
    };
    trees.forEach((t, i) => header(t.root, i));
    for (const n of inner) n.children.forEach((c, j) => header(c, kidsAt.get(n)! + j));
    stats.nodes = inner.length + leaves.size;
    stats.leaves = leaves.size;
    stats.bytes = this.slots.byteLength + this.cand.byteLength + this.boxes.byteLength + this.flags.byteLength + this.minIndex.byteLength;
    this.stats = stats;
  }
}

/** One family's packed trees: a head band over the first entries when it pays, then the rest. */
function pack(entries: Entry[], bits: readonly number[], splits: readonly (readonly number[])[], shadows: Set<Policy>): Packed {
  const head = headBand(entries);
  const trees = head === 0
    ? buildTrees(entries, bits, splits, shadows)
    : [...buildTrees(entries.slice(0, head), bits, splits, shadows), ...buildTrees(entries.slice(head), bits, splits, shadows)];
  return new Packed(entries, trees.sort((x, y) => x.minOrder - y.minOrder), bits.length, head);
}

/** True when entry `e` of `pk` matches the packet (`point`: its coordinates, `f`: its fields). */
function matches(pk: Packed, e: number, point: Float64Array, f: SelectorFields): boolean {
  const { boxes, dims } = pk;
  for (let d = 0, b = e * 2 * dims; d < dims; d++, b += 2) {
    const v = point[d]!;
    if (v < boxes[b]! || v > boxes[b + 1]!) return false;
  }
  const fl = pk.flags[e]!;
  return fl === 0 || (fl === EXTRA && extraMatches(pk.entries[e]!, f));
}

/**
 * A built classifier over a fixed list of entries. Immutable but for `kill`; build a new one
 * to change rules.
 *
 * @example
 * const c = new Classifier(entries4, entries6);
 * const e = c.lookup(fields); // the matching entry with the smallest order, or undefined
 */
export class Classifier {
  readonly #v4: Packed;
  readonly #v6: Packed;
  readonly #point4 = new Float64Array(5);
  readonly #point6 = new Float64Array(11);
  /** Policies whose entries shadow (pruned) later entries in some region. */
  readonly #shadows = new Set<Policy>();

  /** `v4`/`v6`: the compiled entries of each family, sorted by order. */
  constructor(v4: Entry[], v6: Entry[]) {
    this.#v4 = pack(v4, DIM_BITS_V4, SPLITS_V4, this.#shadows);
    this.#v6 = pack(v6, DIM_BITS_V6, SPLITS_V6, this.#shadows);
  }

  /** The matching entry with the smallest order, or undefined. */
  lookup(f: SelectorFields): Entry | undefined {
    const l = f.localAddress;
    const r = f.remoteAddress;
    let point: Float64Array;
    let pk: Packed;
    let p: number;
    if (l.length === 4 && r.length === 4) {
      point = this.#point4;
      pk = this.#v4;
      point[0] = readU32(l, 0);
      point[1] = readU32(r, 0);
      p = 2;
    } else if (l.length === 16 && r.length === 16) {
      point = this.#point6;
      pk = this.#v6;
      for (let j = 0; j < 4; j++) {
        point[j] = readU32(l, 4 * j);
        point[4 + j] = readU32(r, 4 * j);
      }
      p = 8;
    } else {
      return undefined;
    }
    point[p] = f.protocol + 1;
    point[p + 1] = f.localPort + 1;
    point[p + 2] = f.remotePort + 1;
    const { minIndex, slots, cand } = pk;
    let best = NONE;
    for (let t = 0; t < minIndex.length; t++) {
      if (minIndex[t]! >= best) break;
      let at = t * SLOT;
      let h = slots[at]!;
      while (h !== LEAF) {
        const v = point[h & 0xff]!;
        const base = slots[at + 2]!;
        // Outside the node's zoomed block: no candidate of this tree can match.
        if (v < base || v > slots[at + 3]!) break;
        at = (slots[at + 1]! + ((v - base) >>> (h >>> 8))) * SLOT;
        h = slots[at]!;
      }
      if (h !== LEAF) continue;
      let e = slots[at + 3]!;
      if (e >= best) continue;
      if (matches(pk, e, point, f)) {
        best = e;
        continue;
      }
      for (let c = slots[at + 1]!, end = slots[at + 2]!; c < end; c++) {
        e = cand[c]!;
        if (e >= best) break;
        if (matches(pk, e, point, f)) {
          best = e;
          break;
        }
      }
    }
    return best === NONE ? undefined : pk.entries[best];
  }

  /**
   * Makes lookups skip the entries of `policy` (it was removed) without a rebuild: the next
   * matching candidate in each leaf then decides, as if the entries were gone. Returns false,
   * changing nothing, when that is not enough: the policy shadowed entries that the build
   * therefore left out of some leaves, and only a rebuild brings them back.
   */
  kill(policy: Policy): boolean {
    if (this.#shadows.has(policy)) return false;
    for (const pk of [this.#v4, this.#v6]) pk.entries.forEach((e, i) => e.policy === policy && (pk.flags[i]! |= DEAD));
    return true;
  }

  /** Shape of the trees, both families together (for benchmarks and tests). */
  stats(): ClassifierStats {
    const a = this.#v4.stats;
    const b = this.#v6.stats;
    return {
      trees: a.trees + b.trees,
      nodes: a.nodes + b.nodes,
      leaves: a.leaves + b.leaves,
      leafEntries: a.leafEntries + b.leafEntries,
      maxLeaf: Math.max(a.maxLeaf, b.maxLeaf),
      maxDepth: Math.max(a.maxDepth, b.maxDepth),
      head: a.head + b.head,
      bytes: a.bytes + b.bytes,
    };
  }
}
