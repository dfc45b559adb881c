/**
 * The SPD's packet classifier: the trees of ./cutTree.ts over the entries of ./entry.ts, packed
 * into typed arrays. A lookup walks each tree to one leaf and verifies that leaf's candidates
 * exactly, in order; the smallest `order` that matches wins. No cache: every lookup does the
 * full work.
 */

import { readU32 } from '../bytes.js';
import { buildTrees, type Node, SPLITS_V4, SPLITS_V6, type Tree } from './cutTree.js';
import { DIM_BITS_V4, DIM_BITS_V6, type Entry, extraMatches } from './entry.js';
import type { Policy, SelectorFields } from './types.js';

/** Words per node header in `Packed.slots`, and the first word of a leaf's header. */
const SLOT = 4;
const LEAF = 0xff;

/** Statistics of a built classifier, for benchmarks and tests. */
export interface ClassifierStats {
  trees: number;
  nodes: number;
  leaves: number;
  /** Candidate slots over all leaves (an entry counts once per leaf holding it). */
  leafEntries: number;
  maxLeaf: number;
  maxDepth: number;
}

/**
 * One family's trees flattened into 32-bit typed arrays, so that a lookup touches about one
 * cache line per level: every node is a SLOT-word header stored where its parent points, i.e.
 * the children of a node are the consecutive headers of a block, and the roots are slots
 * 0..trees-1. Headers:
 *   - inner node: [dim | shift << 8, first slot of its children, block base, block last];
 *   - leaf: [LEAF, start, end, 0]: its candidate records are `cand[start..end)`, each
 *     [order, entry index, extra (0/1), lo0, hi0, lo1, hi1, ...] (all values fit 32 bits).
 */
class Packed {
  readonly stride: number;
  readonly minOrders: Float64Array;
  readonly slots: Uint32Array;
  readonly cand: Uint32Array;
  readonly entries: Entry[] = [];
  /** 1 for the entries of policies removed since the build (skipped by lookups). */
  readonly dead: Uint8Array;
  readonly stats: ClassifierStats;

  constructor(trees: Tree[], dims: number) {
    this.stride = 3 + 2 * dims;
    const stats: ClassifierStats = { trees: trees.length, nodes: 0, leaves: 0, leafEntries: 0, maxLeaf: 0, maxDepth: 0 };
    // Breadth first: inner nodes (each once: they are never shared) and leaves (deduplicated).
    const inner: Node[] = [];
    const leaves = new Map<Node, [number, number]>();
    const entryIds = new Map<Entry, number>();
    let slotCount = trees.length;
    let candCount = 0;
    const kidsAt = new Map<Node, number>();
    let level = trees.map((t) => t.root);
    for (let depth = 0; level.length > 0; depth++) {
      stats.maxDepth = depth;
      const next: Node[] = [];
      for (const n of level) {
        if (n.dim < 0) {
          if (!leaves.has(n)) {
            leaves.set(n, [candCount, candCount + n.entries.length * this.stride]);
            candCount += n.entries.length * this.stride;
            for (const e of n.entries) if (!entryIds.has(e)) entryIds.set(e, this.entries.push(e) - 1);
            stats.maxLeaf = Math.max(stats.maxLeaf, n.entries.length);
            stats.leafEntries += n.entries.length;
          }
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
        const [start, end] = leaves.get(n)!;
        this.slots.set([LEAF, start, end, 0], at);
      }
    };
    trees.forEach((t, i) => header(t.root, i));
    for (const n of inner) n.children.forEach((c, j) => header(c, kidsAt.get(n)! + j));
    for (const [n, [start]] of leaves) {
      n.entries.forEach((e, i) => {
        const at = start + i * this.stride;
        this.cand[at] = e.order;
        this.cand[at + 1] = entryIds.get(e)!;
        this.cand[at + 2] = e.extra ? 1 : 0;
        this.cand.set(e.box, at + 3);
      });
    }
    this.minOrders = Float64Array.from(trees, (t) => t.minOrder);
    this.dead = new Uint8Array(this.entries.length);
    stats.nodes = inner.length + leaves.size;
    stats.leaves = leaves.size;
    this.stats = stats;
  }
}

/**
 * A built classifier over a fixed list of entries. Immutable; build a new one to change rules.
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
    this.#v4 = new Packed(buildTrees(v4, DIM_BITS_V4, SPLITS_V4, this.#shadows), 5);
    this.#v6 = new Packed(buildTrees(v6, DIM_BITS_V6, SPLITS_V6, this.#shadows), 11);
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
    const { minOrders, slots, cand, stride, dead } = pk;
    const dims = point.length;
    let best = -1;
    let bestOrder = Infinity;
    for (let t = 0; t < minOrders.length; t++) {
      if (minOrders[t]! >= bestOrder) break;
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
      const end = slots[at + 2]!;
      candidates: for (let c = slots[at + 1]!; c < end; c += stride) {
        if (cand[c]! >= bestOrder) break;
        for (let d = 0, b = c + 3; d < dims; d++, b += 2) {
          const v = point[d]!;
          if (v < cand[b]! || v > cand[b + 1]!) continue candidates;
        }
        if (cand[c + 2] === 1 && !extraMatches(pk.entries[cand[c + 1]!]!, f)) continue;
        if (dead[cand[c + 1]!] === 1) continue;
        best = cand[c + 1]!;
        bestOrder = cand[c]!;
        break;
      }
    }
    return best < 0 ? undefined : pk.entries[best];
  }

  /**
   * Makes lookups skip the entries of `policy` (it was removed) without a rebuild: the next
   * matching candidate in each leaf then decides, as if the entries were gone. Returns false,
   * changing nothing, when that is not enough: the policy shadowed entries that the build
   * therefore left out of some leaves, and only a rebuild brings them back.
   */
  kill(policy: Policy): boolean {
    if (this.#shadows.has(policy)) return false;
    for (const pk of [this.#v4, this.#v6]) pk.entries.forEach((e, i) => e.policy === policy && (pk.dead[i] = 1));
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
    };
  }
}
