/**
 * Decision trees over compiled entries (HiCuts, Gupta & McKeown 2000): a node zooms to the
 * aligned block holding its entries' projections in one dimension and cuts it into equal parts;
 * a leaf holds at most BINTH entries, in lookup order. Rule sets that mix wide and narrow rules
 * are first split by which fields are wide, one tree per group (EffiCuts, Vamanan et al. 2010),
 * so wide rules are not copied into every leaf.
 */

import type { Entry } from './entry.js';
import type { Policy } from './types.js';

/** Leaves hold at most this many candidates unless no cut separates them. */
const BINTH = 8;
/** HiCuts space factor: a node's children may hold at most SPFAC × its entries (plus cuts). */
const SPFAC = 4;
const MAX_CUTS = 256;
const MAX_DEPTH = 64;
/** Levels in a row whose part kept all its parent's entries before that part becomes a leaf. */
const MAX_STALLS = 3;
/** A cut must bring the mean entries per part below this share of the node's entries. */
const MIN_GAIN = 0.85;
/** Groups below this size are classified together in one tree (EffiCuts' merging). */
const MIN_GROUP = 48;
/** A group's tree may hold this many entry slots per entry (leaf entries plus cuts) before it is split. */
const GROUP_FACTOR = 16;

/** Dimensions whose wildness splits groups, level by level: addresses (first word), then ports. */
export const SPLITS_V4 = [[0, 1], [3, 4]];
export const SPLITS_V6 = [[0, 4], [9, 10]];

/** A tree node: inner when `dim >= 0` (cuts `[base, base + size)` into `children`), else leaf. */
export class Node {
  constructor(
    readonly dim: number,
    readonly base: number,
    readonly size: number,
    readonly shift: number,
    readonly children: readonly Node[],
    readonly entries: readonly Entry[],
  ) {}
}

/** The shared empty leaf. */
export const EMPTY = new Node(-1, 0, 0, 0, [], []);

/** One group's tree. */
export interface Tree {
  root: Node;
  /** Smallest order in the tree: a lookup that already has a better match skips it. */
  minOrder: number;
}

/** Build state of one tree: the budget (entry slots) stops pathological growth. */
interface Builder {
  budget: number;
  leaves: Map<string, Node>;
  /** Entries that shadowed later ones somewhere (those were pruned from a region). */
  shadows: Set<Entry>;
  /** Set when some leaf holds over 4 × BINTH entries that no cut could separate. */
  crowded: boolean;
}

function leaf(b: Builder, entries: Entry[]): Node {
  if (entries.length === 0) return EMPTY;
  const key = entries.map((e) => e.uid).join(',');
  let n = b.leaves.get(key);
  if (!n) {
    b.leaves.set(key, (n = new Node(-1, 0, 0, 0, [], entries)));
    b.budget -= entries.length;
  }
  return n;
}

/** A leaf over BINTH because cutting stopped: a sign the group mixes wide and narrow rules. */
function bigLeaf(b: Builder, entries: Entry[]): Node {
  if (entries.length > 4 * BINTH) b.crowded = true;
  return leaf(b, entries);
}

function covers(e: Entry, lo: Float64Array, hi: Float64Array): boolean {
  for (let d = 0; d < lo.length; d++) if (e.box[2 * d]! > lo[d]! || e.box[2 * d + 1]! < hi[d]!) return false;
  return true;
}

/** A way to cut a node: `cuts` equal parts of the aligned block [base, base + size) in `dim`. */
interface Cut {
  dim: number;
  base: number;
  size: number;
  cuts: number;
  /** Mean number of entries per part: the expected leaf size for a point in the block. */
  load: number;
}

/**
 * The best cut of `dim`: first zoom to the smallest aligned block holding every entry's
 * projection (points outside it match nothing here), then double the number of parts while the
 * parts hold at most SPFAC × n entries together (HiCuts' space measure).
 */
function planCut(entries: Entry[], dim: number, lo: number, hi: number): Cut | undefined {
  let minA = Infinity;
  let maxB = -Infinity;
  for (const e of entries) {
    minA = Math.min(minA, Math.max(e.box[2 * dim]!, lo));
    maxB = Math.max(maxB, Math.min(e.box[2 * dim + 1]!, hi));
  }
  let base = lo;
  let size = hi - lo + 1;
  while (size > 1) {
    const half = size / 2;
    const i = Math.floor((minA - base) / half);
    if (i !== Math.floor((maxB - base) / half)) break;
    base += i * half;
    size = half;
  }
  if (size === 1) return undefined;
  const slots = (cuts: number): number => {
    const w = size / cuts;
    let sum = 0;
    for (const e of entries) {
      const a = Math.max(e.box[2 * dim]!, base);
      const z = Math.min(e.box[2 * dim + 1]!, base + size - 1);
      sum += Math.floor((z - base) / w) - Math.floor((a - base) / w) + 1;
    }
    return sum;
  };
  let cuts = 2;
  let sum = slots(2);
  while (cuts * 2 <= size && cuts * 2 <= MAX_CUTS) {
    const next = slots(cuts * 2);
    if (next + cuts * 2 > SPFAC * entries.length) break;
    cuts *= 2;
    sum = next;
  }
  return { dim, base, size, cuts, load: sum / cuts };
}

function build(b: Builder, input: Entry[], lo: Float64Array, hi: Float64Array, depth: number, stalls: number): Node {
  // A candidate that covers the whole region with no further checks shadows everything after it.
  const entries: Entry[] = [];
  for (const e of input) {
    entries.push(e);
    if (!e.extra && covers(e, lo, hi)) {
      if (entries.length < input.length) b.shadows.add(e);
      break;
    }
  }
  if (entries.length <= BINTH) return leaf(b, entries);
  // Small lists that keep resisting cuts (entries stacked over one point) stay together.
  if (depth >= MAX_DEPTH || (stalls > MAX_STALLS && entries.length <= 4 * BINTH) || b.budget <= 0) return bigLeaf(b, entries);

  // The dimension whose cut leaves the fewest entries per part; none that separates enough → a leaf.
  let best: Cut | undefined;
  for (let d = 0; d < lo.length; d++) {
    const c = planCut(entries, d, lo[d]!, hi[d]!);
    if (c && c.load < (best?.load ?? entries.length * MIN_GAIN)) best = c;
  }
  if (!best) return bigLeaf(b, entries);
  const { dim, base, size, cuts } = best;
  const width = size / cuts;
  const lists: Entry[][] = Array.from({ length: cuts }, () => []);
  for (const e of entries) {
    const a = Math.floor((Math.max(e.box[2 * dim]!, base) - base) / width);
    const z = Math.floor((Math.min(e.box[2 * dim + 1]!, base + size - 1) - base) / width);
    for (let i = a; i <= z; i++) lists[i]!.push(e);
  }
  // Charge the node's own list too: it bounds the build work, not only the memory kept.
  b.budget -= cuts + entries.length;
  const children = lists.map((list, i) => {
    if (list.length === 0) return EMPTY;
    const clo = lo.slice();
    const chi = hi.slice();
    clo[dim] = base + i * width;
    chi[dim] = base + (i + 1) * width - 1;
    // A part that kept every entry made no progress: a few in a row and it becomes a leaf.
    return build(b, list, clo, chi, depth + 1, list.length < entries.length ? 0 : stalls + 1);
  });
  return new Node(dim, base, size, Math.log2(width), children, []);
}

/**
 * Splits entries by which of `dims` they leave wide (covering half their domain or more), as
 * EffiCuts does; groups under MIN_GROUP entries go together.
 */
function split(entries: Entry[], bits: readonly number[], dims: readonly number[]): Entry[][] {
  const byKey = new Map<number, Entry[]>();
  for (const e of entries) {
    let key = 0;
    dims.forEach((d, i) => {
      if (e.box[2 * d + 1]! - e.box[2 * d]! + 1 >= 2 ** (bits[d]! - 1)) key |= 1 << i;
    });
    let g = byKey.get(key);
    if (!g) byKey.set(key, (g = []));
    g.push(e);
  }
  const out: Entry[][] = [];
  const small: Entry[] = [];
  for (const g of byKey.values()) {
    if (g.length >= MIN_GROUP) out.push(g);
    else small.push(...g);
  }
  if (small.length > 0) out.push(small.sort((x, y) => x.order - y.order));
  return out;
}

/**
 * One tree per group, adaptively: the whole set first; a group whose tree outgrows
 * GROUP_FACTOR × its size, or ends with crowded leaves (wide and narrow rules copied into each
 * other's leaves, or stacked over one another), is split by the wildness of the next dimensions
 * in `splits` and each part gets its own tree. The last level keeps what it builds, under a
 * generous budget. Policies whose entries shadowed others are added to `shadows`.
 */
export function buildTrees(entries: Entry[], bits: readonly number[], splits: readonly (readonly number[])[], shadows: Set<Policy>): Tree[] {
  const lo = new Float64Array(bits.length);
  const hi = Float64Array.from(bits, (n) => 2 ** n - 1);
  const trees: Tree[] = [];
  const visit = (group: Entry[], level: number): void => {
    const last = level >= splits.length;
    const b: Builder = { budget: last ? 64 * group.length + 100_000 : GROUP_FACTOR * group.length + 4096, leaves: new Map(), shadows: new Set(), crowded: false };
    const root = build(b, group, lo, hi, 0, 0);
    if ((b.budget >= 0 && !b.crowded) || last) {
      trees.push({ root, minOrder: group[0]!.order });
      for (const e of b.shadows) shadows.add(e.policy);
    } else {
      for (const g of split(group, bits, splits[level]!)) visit(g, level + 1);
    }
  };
  if (entries.length > 0) visit(entries, 0);
  return trees.sort((x, y) => x.minOrder - y.minOrder);
}

