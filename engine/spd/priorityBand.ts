/**
 * Priority banding: when most packets that hit a rule set are decided by its first few hundred
 * rules (rules that overlap heavily: a packet matches dozens of them, so the best one comes
 * early), those rules get trees of their own. The classifier walks trees by their smallest
 * order and stops at the first tree whose smallest order is past the best match so far, so a
 * packet decided in the head band skips every other tree (the priority-ordered early exit of
 * PartitionSort and TupleMerge, Yingchareonthawornchai et al. 2016, Daly et al. 2019).
 *
 * Whether a band pays is measured, not assumed: probe points (the centre of the boxes of up to
 * PROBES entries spread over the list: traffic of a rule lies inside its selector) are matched
 * against the first entries, and a head band is cut where it decides at least half of them.
 * Sparse rule sets, where a packet matches one rule or two, get no band and lose nothing.
 */

import type { Entry } from './entry.js';

/** Rule sets smaller than this keep one band: their trees are few already. */
const MIN_ENTRIES = 1024;
const PROBES = 1024;
/** Smallest head band tried; sizes double up to an eighth of the entries. */
const MIN_HEAD = 64;
/** A head band must decide at least this share of the probes. */
const MIN_DECIDED = 0.5;

/** True when `point` lies in the box of `e` (the box alone: a cost estimate, not a decision). */
function inBox(e: Entry, point: Float64Array): boolean {
  for (let d = 0; d < point.length; d++) if (point[d]! < e.box[2 * d]! || point[d]! > e.box[2 * d + 1]!) return false;
  return true;
}

/**
 * The number of leading entries (in lookup order) that deserve trees of their own, or 0. The
 * band ends on a policy boundary, so that every later tree's smallest order is past it.
 *
 * @example
 * const k = headBand(entries); // 0, or e.g. 512 for 10k heavily overlapping rules
 */
export function headBand(entries: readonly Entry[]): number {
  const n = entries.length;
  if (n < MIN_ENTRIES) return 0;
  const maxHead = n >> 3;
  const dims = entries[0]!.box.length / 2;
  const step = Math.max(1, Math.floor(n / PROBES));
  const firstMatch: number[] = [];
  const point = new Float64Array(dims);
  for (let i = 0; i < n; i += step) {
    const box = entries[i]!.box;
    for (let d = 0; d < dims; d++) point[d] = Math.floor((box[2 * d]! + box[2 * d + 1]!) / 2);
    let j = 0;
    while (j < maxHead && !inBox(entries[j]!, point)) j++;
    firstMatch.push(j);
  }
  firstMatch.sort((a, b) => a - b);
  // The smallest head that decides MIN_DECIDED of the probes.
  const needed = firstMatch[Math.ceil(firstMatch.length * MIN_DECIDED) - 1]!;
  if (needed >= maxHead) return 0;
  let k = MIN_HEAD;
  while (k <= needed) k *= 2;
  if (k > maxHead) return 0;
  while (k < n && entries[k]!.order === entries[k - 1]!.order) k++;
  return k;
}
