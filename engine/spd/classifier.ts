/**
 * The SPD's packet classifier: decision trees that cut the selector space (HiCuts, Gupta &
 * McKeown 2000), with the rule set first split by which fields are wildcards (EffiCuts,
 * Vamanan et al. 2010) so wide rules are not copied into every leaf. A lookup walks each tree
 * to one leaf and verifies that leaf's candidates exactly, in order; the smallest `order` that
 * matches wins. No cache: every lookup does the full work.
 *
 * Each selector set becomes one `Entry`: a box (an inclusive interval per dimension) that
 * contains every packet it matches, plus the checks the box cannot express (ICMP type/code,
 * MH type, an IPv6 range that is not a product of word intervals). Dimensions, all unsigned:
 *   IPv4: local address, remote address, protocol + 1, local port + 1, remote port + 1;
 *   IPv6: local address words 0..3, remote address words 0..3, protocol + 1, ports + 1.
 * (+1 maps OPAQUE, -1, to 0.)
 */

import { readU32 } from '../bytes.js';
import { compareAddresses } from './validate.js';
import type { AddressSelector, Policy, Selector, SelectorFields, SpdDecision } from './types.js';

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

const WORD = 0x1_0000_0000;
const DIM_BITS_V4 = [32, 32, 9, 17, 17];
/** Top of the protocol + 1 (0..256) and port + 1 (0..65536) dimensions: 2^9 - 1, 2^17 - 1. */
const PROTOCOL_TOP = 511;
const PORT_TOP = 0x1ffff;
const DIM_BITS_V6 = [32, 32, 32, 32, 32, 32, 32, 32, 9, 17, 17];
/** Dimensions whose wildness splits groups, level by level: addresses (first word), then ports. */
const SPLITS_V4 = [[0, 1], [3, 4]];
const SPLITS_V6 = [[0, 4], [9, 10]];

/** One selector set of one policy, compiled for one address family. */
export interface Entry {
  /** Rank of the policy in lookup order (lower first); shared by a policy's selector sets. */
  readonly order: number;
  /** The policy's insertion number: with `policy.priority` it orders entries across rebuilds. */
  readonly seq: number;
  readonly policy: Policy;
  /** What a match means for the caller (precomputed: lookups allocate nothing). */
  readonly decision: SpdDecision;
  /** Inclusive box, interleaved [lo0, hi0, lo1, hi1, ...]. */
  readonly box: Float64Array;
  readonly icmpLo: number;
  readonly icmpHi: number;
  readonly mhLo: number;
  readonly mhHi: number;
  /** Set when the box alone does not decide: ICMP/MH constraints or an IPv6 range. */
  readonly extra: boolean;
  /** Exact IPv6 ranges to re-check when the word box over-approximates them. */
  readonly localRange?: readonly [Uint8Array, Uint8Array];
  readonly remoteRange?: readonly [Uint8Array, Uint8Array];
  /** Unique per entry, for sharing identical leaves. */
  readonly uid: number;
}

/** Octets of an address: 4 (IPv4) or 16 (IPv6). */
export type Family = 4 | 16;

/** [from, to] of an address selector in `family` (ANY spans it), or undefined if it cannot match. */
function addressBounds(s: AddressSelector, family: Family): [Uint8Array, Uint8Array] | undefined {
  switch (s.kind) {
    case 'any':
      return [new Uint8Array(family), new Uint8Array(family).fill(0xff)];
    case 'opaque':
      return undefined;
    case 'single':
      return s.address.length === family ? [s.address, s.address] : undefined;
    case 'range':
      return s.from.length === family ? [s.from, s.to] : undefined;
    case 'prefix': {
      if (s.address.length !== family) return undefined;
      const to = s.address.slice();
      for (let bit = s.length; bit < family * 8; bit++) to[bit >> 3]! |= 0x80 >> (bit & 7);
      return [s.address, to];
    }
  }
}

/**
 * Writes the word intervals of [from, to] into `box` from dimension `dim0`; returns true when
 * their product is exactly [from, to] (always for IPv4, and for IPv6 singles and prefixes).
 */
function addressBox(from: Uint8Array, to: Uint8Array, box: Float64Array, dim0: number): boolean {
  const words = from.length / 4;
  let k = 0;
  while (k < words - 1 && readU32(from, 4 * k) === readU32(to, 4 * k)) k++;
  let exact = true;
  for (let j = 0; j < words; j++) {
    const a = readU32(from, 4 * j);
    const b = readU32(to, 4 * j);
    if (j <= k) {
      box[2 * (dim0 + j)] = a;
      box[2 * (dim0 + j) + 1] = b;
    } else {
      box[2 * (dim0 + j)] = 0;
      box[2 * (dim0 + j) + 1] = WORD - 1;
      if (a !== 0 || b !== WORD - 1) exact = false;
    }
  }
  return exact;
}

type RangeLike = { kind: 'any' } | { kind: 'opaque' } | { kind: 'range'; from: number; to: number };

/**
 * [lo, hi] over value + 1 (OPAQUE = 0): OPAQUE is [0, 0]; ANY spans the whole power-of-two
 * domain `[0, top]` (values past max + 1 never occur), so that it covers every tree region.
 */
function shiftedBounds(s: RangeLike | undefined, top: number): [number, number] {
  if (s === undefined || s.kind === 'any') return [0, top];
  if (s.kind === 'opaque') return [0, 0];
  return [s.from + 1, s.to + 1];
}

/**
 * Compiles one selector set for one address family, or undefined when it matches no packet of
 * that family. The selector must have passed `validateSelector`; `uid` must be unique among
 * the entries of one classifier.
 *
 * @example
 * const e = compileEntry(policy, rank, seq, policy.selectors[0], 4, { action: 'bypass', policy }, uid++);
 */
export function compileEntry(
  policy: Policy,
  order: number,
  seq: number,
  s: Selector,
  family: Family,
  decision: SpdDecision,
  uid: number,
): Entry | undefined {
  const local = addressBounds(s.localAddress, family);
  const remote = addressBounds(s.remoteAddress, family);
  if (!local || !remote) return undefined;
  const v4 = family === 4;
  const dims = v4 ? 5 : 11;
  const box = new Float64Array(2 * dims);
  const localExact = addressBox(local[0], local[1], box, 0);
  const remoteExact = addressBox(remote[0], remote[1], box, v4 ? 1 : 4);
  const p = v4 ? 2 : 8;
  const proto: [number, number] =
    s.protocol.kind === 'any' ? [0, PROTOCOL_TOP] : s.protocol.kind === 'opaque' ? [0, 0] : [s.protocol.value + 1, s.protocol.value + 1];
  const lp = shiftedBounds(s.localPort, PORT_TOP);
  const rp = shiftedBounds(s.remotePort, PORT_TOP);
  box.set([proto[0], proto[1], lp[0], lp[1], rp[0], rp[1]], 2 * p);
  const icmp = s.icmp;
  const [icmpLo, icmpHi] = shiftedBounds(
    icmp?.kind === 'range' ? { kind: 'range', from: icmp.from.type * 256 + icmp.from.code, to: icmp.to.type * 256 + icmp.to.code } : icmp,
    PORT_TOP,
  );
  const [mhLo, mhHi] = shiftedBounds(s.mhType, PORT_TOP);
  return {
    order,
    seq,
    policy,
    decision,
    box,
    icmpLo,
    icmpHi,
    mhLo,
    mhHi,
    extra: !localExact || !remoteExact || s.icmp !== undefined || s.mhType !== undefined,
    localRange: localExact ? undefined : local,
    remoteRange: remoteExact ? undefined : remote,
    uid,
  };
}

/** The checks beyond the box; `f` is the packet. */
function extraMatches(e: Entry, f: SelectorFields): boolean {
  const icmp = f.icmp + 1;
  const mh = f.mhType + 1;
  if (icmp < e.icmpLo || icmp > e.icmpHi || mh < e.mhLo || mh > e.mhHi) return false;
  const l = e.localRange;
  if (l && (compareAddresses(l[0], f.localAddress) > 0 || compareAddresses(f.localAddress, l[1]) > 0)) return false;
  const r = e.remoteRange;
  return !(r && (compareAddresses(r[0], f.remoteAddress) > 0 || compareAddresses(f.remoteAddress, r[1]) > 0));
}

/** A tree node: inner when `dim >= 0` (cuts `[base, base + size)` into `children`), else leaf. */
class Node {
  constructor(
    readonly dim: number,
    readonly base: number,
    readonly size: number,
    readonly shift: number,
    readonly children: readonly Node[],
    readonly entries: readonly Entry[],
  ) {}
}

const EMPTY = new Node(-1, 0, 0, 0, [], []);
/** Packed id of a lookup that fell outside a zoomed block (no leaf index is this large). */
const EMPTY_LEAF = -0x7fffffff;
/** Words per inner node in `Packed.nodes`. */
const NODE_STRIDE = 6;

interface Tree {
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
function buildTrees(entries: Entry[], bits: readonly number[], splits: readonly (readonly number[])[], shadows: Set<Policy>): Tree[] {
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
 * One family's trees flattened into 32-bit typed arrays, so that a lookup reads a few
 * contiguous runs of memory instead of chasing objects:
 *   - `nodes`, NODE_STRIDE words per inner node: [dim, shift, first kid, block base, block last,
 *     smallest order below] (a lookup that already has a better match stops there);
 *   - `kids[first kid + i]`: child i, a node index (>= 0) or the complement of a leaf (< 0);
 *   - `leafStart[l]..leafEnd[l]`: leaf l's run of candidate records in `cand`, each
 *     [order, entry index, extra (0/1), lo0, hi0, lo1, hi1, ...] (all values fit 32 bits).
 */
class Packed {
  readonly stride: number;
  readonly roots: Int32Array;
  readonly minOrders: Float64Array;
  readonly nodes: Uint32Array;
  readonly kids: Int32Array;
  readonly leafStart: Int32Array;
  readonly leafEnd: Int32Array;
  readonly cand: Uint32Array;
  readonly entries: Entry[] = [];
  /** 1 for the entries of policies removed since the build (skipped by lookups). */
  readonly dead: Uint8Array;
  readonly stats: ClassifierStats;

  constructor(trees: Tree[], dims: number) {
    this.stride = 3 + 2 * dims;
    const inner: Node[] = [];
    const leaves: Node[] = [];
    const ids = new Map<Node, number>();
    const entryIds = new Map<Entry, number>();
    const stats: ClassifierStats = { trees: trees.length, nodes: 0, leaves: 0, leafEntries: 0, maxLeaf: 0, maxDepth: 0 };
    const number = (n: Node, depth: number): number => {
      stats.maxDepth = Math.max(stats.maxDepth, depth);
      let id = ids.get(n);
      if (id !== undefined) return id;
      if (n.dim < 0) {
        id = ~leaves.length;
        leaves.push(n);
        for (const e of n.entries) if (!entryIds.has(e)) entryIds.set(e, this.entries.push(e) - 1);
      } else {
        id = inner.length;
        inner.push(n);
      }
      ids.set(n, id);
      for (const c of n.children) number(c, depth + 1);
      return id;
    };
    this.roots = Int32Array.from(trees, (t) => number(t.root, 0));
    this.minOrders = Float64Array.from(trees, (t) => t.minOrder);
    this.nodes = new Uint32Array(inner.length * NODE_STRIDE);
    this.kids = new Int32Array(inner.reduce((sum, n) => sum + n.children.length, 0));
    const below = new Map<Node, number>();
    const minOrder = (n: Node): number => {
      let m = below.get(n);
      if (m === undefined) {
        m = n.dim < 0 ? (n.entries[0]?.order ?? 0xffffffff) : Math.min(...n.children.map(minOrder));
        below.set(n, m);
      }
      return m;
    };
    let k = 0;
    inner.forEach((n, i) => {
      this.nodes.set([n.dim, n.shift, k, n.base, n.base + n.size - 1, minOrder(n)], i * NODE_STRIDE);
      for (const c of n.children) this.kids[k++] = ids.get(c)!;
    });
    const slots = leaves.reduce((sum, l) => sum + l.entries.length, 0);
    this.cand = new Uint32Array(slots * this.stride);
    this.leafStart = new Int32Array(leaves.length);
    this.leafEnd = new Int32Array(leaves.length);
    let at = 0;
    leaves.forEach((l, i) => {
      this.leafStart[i] = at;
      for (const e of l.entries) {
        this.cand[at] = e.order;
        this.cand[at + 1] = entryIds.get(e)!;
        this.cand[at + 2] = e.extra ? 1 : 0;
        this.cand.set(e.box, at + 3);
        at += this.stride;
      }
      this.leafEnd[i] = at;
      stats.maxLeaf = Math.max(stats.maxLeaf, l.entries.length);
    });
    this.dead = new Uint8Array(this.entries.length);
    stats.nodes = inner.length + leaves.length;
    stats.leaves = leaves.length;
    stats.leafEntries = slots;
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
    const { roots, minOrders, nodes, kids, leafStart, leafEnd, cand, stride, dead } = pk;
    const dims = point.length;
    let best = -1;
    let bestOrder = Infinity;
    for (let t = 0; t < roots.length; t++) {
      if (minOrders[t]! >= bestOrder) break;
      let k = roots[t]!;
      while (k >= 0) {
        const at = k * NODE_STRIDE;
        const v = point[nodes[at]!]!;
        // Outside the node's zoomed block no candidate matches; below it none can beat `best`.
        if (v < nodes[at + 3]! || v > nodes[at + 4]! || nodes[at + 5]! >= bestOrder) {
          k = EMPTY_LEAF;
          break;
        }
        k = kids[nodes[at + 2]! + ((v - nodes[at + 3]!) >>> nodes[at + 1]!)]!;
      }
      if (k === EMPTY_LEAF) continue;
      const end = leafEnd[~k]!;
      candidates: for (let c = leafStart[~k]!; c < end; c += stride) {
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
