//! A wide (8-ary) sum-and-min tree over `f64` leaf priorities, laid out for cache misses.
//!
//! Why this shape: at a million leaves the tree does not fit in L1/L2, so the cost of
//! sampling and updating is the number of cache lines touched and how many of those
//! misses can be in flight at once.
//!
//! * **8-ary, one cache line per node's children.** Eight `f64` children fill one
//!   64-byte line, so a descent touches 7 lines for a million leaves instead of the 20
//!   a binary tree touches, and choosing among the 8 children costs no extra miss.
//! * **Sums and mins in separate arrays of the same shape**: a descent reads only sums,
//!   so it misses on half the bytes (a million leaves: 1 MiB of first-level sums instead
//!   of 2); an update recomputes both for the same dirty nodes.
//! * **Leaves stored once.** The min of a leaf lane is taken over its positive leaves
//!   (an empty slot is `0.0`), so the leaves are not duplicated for the min tree.
//! * **Level-by-level batches.** [`PriorityTree::descend`] moves every query one level
//!   down before any goes further, prefetching a few queries ahead: the loads of one
//!   level are independent, so their misses overlap instead of queueing.
//! * **Deferred, exact propagation.** An update writes its leaves and notes their lanes;
//!   the next read recomputes the dirty ancestors level by level, deduplicated (so the
//!   several updates between two samples share their ancestors' work), each parent
//!   re-summed from its children in a fixed order. The tree is thus always a pure
//!   function of its leaves once read: no drift after millions of updates, the same
//!   bits however updates were batched, and a tree rebuilt from saved leaves is
//!   bit-identical, which is what makes a restored sampler repeat the same draws.
//! * **`f64` sums.** With `f32` the root of a million priorities near 1 carries an
//!   absolute error near 0.06, enough to misplace the queries of small-priority items;
//!   with `f64` it is ~1e-10. (A 16-ary `f32` tree would touch one level fewer; it
//!   was not tried.)

/// Children per node (one cache line of `f64`).
pub const FANOUT: usize = 8;

/// One cache line of leaf priorities.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Lane([f64; FANOUT]);

/// Sum of eight values in a fixed order, halves first (`(v0+v4) + (v2+v6)`, ...), which
/// is deterministic and maps onto vertical SIMD adds.
#[inline(always)]
fn sum8(v: &[f64; FANOUT]) -> f64 {
    let a = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

/// `min` without `f64::min`'s NaN handling (no NaN is ever stored), so it compiles to
/// one `minpd`/`minsd`.
#[inline(always)]
fn min2(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn min8(v: &[f64; FANOUT]) -> f64 {
    let a = [
        min2(v[0], v[4]),
        min2(v[1], v[5]),
        min2(v[2], v[6]),
        min2(v[3], v[7]),
    ];
    let b = [min2(a[0], a[2]), min2(a[1], a[3])];
    min2(b[0], b[1])
}

/// Min over the positive leaves of a lane; `inf` when the lane holds none.
#[inline(always)]
fn positive_min8(v: &[f64; FANOUT]) -> f64 {
    let mut m = [f64::INFINITY; FANOUT];
    for (out, &x) in m.iter_mut().zip(v) {
        *out = if x > 0.0 { x } else { f64::INFINITY };
    }
    min8(&m)
}

/// Picks the child of `vals` whose cumulative range holds `*rest`, and leaves in `*rest`
/// the offset within that child. Branch-free over the eight children (a random query
/// would mispredict a branchy scan at almost every level): the child is the number of
/// prefix sums `<= *rest`. The prefix sums come from a three-deep scan rather than a
/// chain of eight adds (shorter latency, so the queries of a level overlap better); they
/// are monotone, and a zero child repeats its predecessor's prefix exactly, so a zero
/// child is never picked. If rounding pushed `*rest` past the last prefix, the last
/// positive child is taken.
#[inline(always)]
fn pick(v: &[f64; FANOUT], rest: &mut f64) -> usize {
    let u = *rest;
    let (p01, p23, p45, p67) = (v[0] + v[1], v[2] + v[3], v[4] + v[5], v[6] + v[7]);
    let (p03, p46, p47) = (p01 + p23, p45 + v[6], p45 + p67);
    // `prefix[i]` is the mass of children `0..i` (so `prefix[0] = 0`): the child picked
    // is the count `c` of prefixes `1..=8` at or below `u`, and its offset `u - prefix[c]`
    // is an indexed load, with no branch on `c`.
    let prefix = [
        0.0,
        v[0],
        p01,
        p01 + v[2],
        p03,
        p03 + v[4],
        p03 + p45,
        p03 + p46,
        p03 + p47,
    ];
    let c = prefix[1..]
        .iter()
        .map(|&p| usize::from(p <= u))
        .sum::<usize>();
    if c < FANOUT {
        *rest = u - prefix[c];
        return c;
    }
    let last = v.iter().rposition(|&x| x > 0.0).unwrap_or(0);
    *rest = v[last];
    last
}

/// How many slots ahead [`PriorityTree::set`] prefetches.
const SET_AHEAD: usize = 16;

/// How many queries ahead [`PriorityTree::descend`] prefetches: enough to keep the
/// core's outstanding-miss slots busy, few enough that lines are still there when used.
const AHEAD: usize = 32;

/// Asks for the cache line holding `value` without waiting for it.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults and reads nothing.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// A slot number as a caller holds it: `u64`, or `i64` as NumPy hands slots back, so a
/// binding can pass the array `sample` returned without converting it first.
pub trait SlotIndex: Copy + std::fmt::Display + Send + Sync {
    /// The slot as `u64`. A negative `i64` wraps to `2^63` or more, above any capacity,
    /// so one unsigned comparison checks both bounds.
    fn to_u64(self) -> u64;
}

impl SlotIndex for u64 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self
    }
}

impl SlotIndex for i64 {
    #[inline(always)]
    fn to_u64(self) -> u64 {
        self as u64
    }
}

/// The sum tree and min tree over `capacity` leaf priorities. A leaf of `0.0` is an
/// empty slot: it is never sampled and does not count towards the minimum.
///
/// Leaves are always current; internal values may lag behind recent [`Self::set`]
/// calls until the next read ([`Self::total`], [`Self::min`], [`Self::descend`]),
/// which recomputes them exactly. Because every internal value is a fixed-order
/// function of its children, the tree after that is the same, bit for bit, however
/// the updates were batched, and a tree rebuilt from saved leaves is identical too.
#[derive(Clone, Debug)]
pub struct PriorityTree {
    capacity: usize,
    leaves: Vec<Lane>,
    /// `sums[0]` holds one value per leaf lane; each next level one per lane of the
    /// previous; the last level is a single lane (the root's children). Sums and mins
    /// are separate arrays so that a descent, which reads only sums, has half the
    /// bytes to miss on (a million leaves: 1 MiB of first-level sums, which stays in L2).
    sums: Vec<Vec<Lane>>,
    /// The mins, shaped like `sums`.
    mins: Vec<Vec<Lane>>,
    /// Leaf lanes changed since the internal values were last brought up to date, each
    /// once (so the deferred work is bounded by the tree's size)...
    dirty: Vec<usize>,
    /// ...which this bitmap (one bit per lane) ensures.
    dirty_bits: Vec<u64>,
}

impl PriorityTree {
    /// An all-empty tree over `capacity > 0` leaves.
    pub fn new(capacity: usize) -> Self {
        let lanes = capacity.div_ceil(FANOUT).max(1);
        let (mut sums, mut mins) = (Vec::new(), Vec::new());
        let mut values = lanes;
        loop {
            let groups = values.div_ceil(FANOUT);
            sums.push(vec![Lane([0.0; FANOUT]); groups]);
            mins.push(vec![Lane([f64::INFINITY; FANOUT]); groups]);
            if groups == 1 {
                break;
            }
            values = groups;
        }
        PriorityTree {
            capacity,
            leaves: vec![Lane::default(); lanes],
            sums,
            mins,
            dirty: Vec::new(),
            dirty_bits: vec![0; lanes.div_ceil(64)],
        }
    }

    /// A tree whose leaves are `values` (`values.len() <= capacity`, the rest empty).
    pub fn from_leaves(capacity: usize, values: &[f64]) -> Self {
        let mut tree = PriorityTree::new(capacity);
        for (i, &v) in values.iter().enumerate() {
            tree.leaves[i / FANOUT].0[i % FANOUT] = v;
        }
        tree.recompute_ranges(0, tree.leaves.len() - 1);
        tree
    }

    /// Number of leaves.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The value of leaf `slot` (`slot < capacity`).
    #[inline]
    pub fn leaf(&self, slot: usize) -> f64 {
        self.leaves[slot / FANOUT].0[slot % FANOUT]
    }

    fn root_sums(&self) -> &[f64; FANOUT] {
        &self.sums[self.sums.len() - 1][0].0
    }

    /// Sum of all leaves.
    pub fn total(&mut self) -> f64 {
        self.flush();
        sum8(self.root_sums())
    }

    /// Smallest positive leaf; `inf` when every leaf is empty.
    pub fn min(&mut self) -> f64 {
        self.flush();
        min8(&self.mins[self.mins.len() - 1][0].0)
    }

    /// Recomputes value `j` of level `k` (sum and min) exactly from its children.
    #[inline(always)]
    fn recompute(&mut self, k: usize, j: usize) {
        let (sum, min) = if k == 0 {
            let lane = &self.leaves[j].0;
            (sum8(lane), positive_min8(lane))
        } else {
            (sum8(&self.sums[k - 1][j].0), min8(&self.mins[k - 1][j].0))
        };
        self.sums[k][j / FANOUT].0[j % FANOUT] = sum;
        self.mins[k][j / FANOUT].0[j % FANOUT] = min;
    }

    /// Recomputes exactly the ancestors of the leaf lanes `lo..=hi`, level by level.
    fn recompute_ranges(&mut self, mut lo: usize, mut hi: usize) {
        for k in 0..self.sums.len() {
            for j in lo..=hi {
                self.recompute(k, j);
            }
            lo /= FANOUT;
            hi /= FANOUT;
        }
    }

    /// Sets leaf `slots[i]` to `values[i]` (`0.0` empties it); with repeated slots the
    /// last value wins. Slots must be `< capacity` (checked by the caller). The
    /// ancestors are brought up to date by the next read.
    pub fn set<S: SlotIndex>(&mut self, slots: &[S], values: &[f64]) {
        debug_assert_eq!(slots.len(), values.len());
        // The lanes and bitmap words of a batch rarely all sit in L1; asking for them
        // a few slots ahead overlaps their misses instead of stalling on each write.
        for &s in &slots[..slots.len().min(SET_AHEAD)] {
            self.prefetch_for_set(s);
        }
        for (i, (&s, &v)) in slots.iter().zip(values).enumerate() {
            if let Some(&ahead) = slots.get(i + SET_AHEAD) {
                self.prefetch_for_set(ahead);
            }
            let s = s.to_u64() as usize;
            let lane = s / FANOUT;
            self.leaves[lane].0[s % FANOUT] = v;
            let (word, bit) = (lane / 64, 1u64 << (lane % 64));
            if self.dirty_bits[word] & bit == 0 {
                self.dirty_bits[word] |= bit;
                self.dirty.push(lane);
            }
        }
    }

    /// Asks for the leaf lane and dirty-bit word of `slot`; nothing for a slot out of range.
    #[inline(always)]
    fn prefetch_for_set<S: SlotIndex>(&self, slot: S) {
        let lane = (slot.to_u64() / FANOUT as u64) as usize;
        if let (Some(leaves), Some(word)) = (self.leaves.get(lane), self.dirty_bits.get(lane / 64))
        {
            prefetch(leaves);
            prefetch(word);
        }
    }

    /// Sets the leaves `start..start + n` to `value` and their ancestors at once.
    pub fn fill(&mut self, start: usize, n: usize, value: f64) {
        if n == 0 {
            return;
        }
        self.flush();
        for s in start..start + n {
            self.leaves[s / FANOUT].0[s % FANOUT] = value;
        }
        self.recompute_ranges(start / FANOUT, (start + n - 1) / FANOUT);
    }

    /// Recomputes the ancestors of every dirty lane, one level at a time: the dirty
    /// nodes of a level are deduplicated (a shared ancestor is done once) and their
    /// loads are independent, so the misses of one level overlap.
    pub fn flush(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        if !dirty.windows(2).all(|w| w[0] <= w[1]) {
            dirty.sort_unstable();
        }
        for &lane in &dirty {
            self.dirty_bits[lane / 64] = 0;
        }
        for k in 0..self.sums.len() {
            for &j in &dirty {
                self.recompute(k, j);
            }
            // Parents of a sorted list are sorted: dedup is enough.
            for j in dirty.iter_mut() {
                *j /= FANOUT;
            }
            dirty.dedup();
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Finds, for each query `u` in `queries` (each in `[0, total)`), the leaf whose
    /// cumulative range holds it; writes the slot and the leaf's value. The tree must
    /// not be empty. All queries go down one level together so their misses overlap.
    pub fn descend(&mut self, queries: &mut [f64], slots: &mut [usize], values: &mut [f64]) {
        self.flush();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU supports AVX2 and POPCNT, checked just above.
            unsafe { self.descend_avx2(queries, slots, values) };
            return;
        }
        self.descend_portable(queries, slots, values);
    }

    /// [`Self::descend`] compiled for AVX2 and POPCNT (wider lanes for the scans, one
    /// instruction to count the prefixes below a query; the same IEEE operations and no
    /// FMA, so the draws are bit-identical to the portable path).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn descend_avx2(&self, queries: &mut [f64], slots: &mut [usize], values: &mut [f64]) {
        self.descend_portable(queries, slots, values);
    }

    #[inline(always)]
    fn descend_portable(&self, queries: &mut [f64], slots: &mut [usize], values: &mut [f64]) {
        debug_assert!(queries.len() == slots.len() && slots.len() == values.len());
        let n = queries.len();
        let top = self.sums.len() - 1;
        for (u, node) in queries.iter_mut().zip(slots.iter_mut()) {
            *node = pick(self.root_sums(), u);
        }
        for k in (0..top).rev() {
            let level = &self.sums[k];
            for &node in &slots[..n.min(AHEAD)] {
                prefetch(&level[node]);
            }
            for q in 0..n {
                if let Some(&ahead) = slots.get(q + AHEAD) {
                    prefetch(&level[ahead]);
                }
                slots[q] = slots[q] * FANOUT + pick(&level[slots[q]].0, &mut queries[q]);
            }
        }
        for &node in &slots[..n.min(AHEAD)] {
            prefetch(&self.leaves[node]);
        }
        for q in 0..n {
            if let Some(&ahead) = slots.get(q + AHEAD) {
                prefetch(&self.leaves[ahead]);
            }
            let lane = &self.leaves[slots[q]].0;
            let c = pick(lane, &mut queries[q]);
            slots[q] = slots[q] * FANOUT + c;
            values[q] = lane[c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_find(leaves: &[f64], u: f64) -> usize {
        let mut acc = 0.0;
        let mut last = 0;
        for (i, &v) in leaves.iter().enumerate() {
            if v > 0.0 {
                if u < acc + v {
                    return i;
                }
                acc += v;
                last = i;
            }
        }
        last
    }

    #[test]
    fn sums_and_mins_match_naive_for_many_shapes() {
        for capacity in [1, 2, 7, 8, 9, 63, 64, 65, 511, 513, 4097] {
            let values: Vec<f64> = (0..capacity).map(|i| ((i * 37) % 11) as f64).collect();
            let mut tree = PriorityTree::from_leaves(capacity, &values);
            let total: f64 = values.iter().sum();
            assert!((tree.total() - total).abs() < 1e-9, "capacity {capacity}");
            let min = values
                .iter()
                .copied()
                .filter(|&v| v > 0.0)
                .fold(f64::INFINITY, f64::min);
            assert_eq!(tree.min(), min, "capacity {capacity}");
        }
    }

    fn assert_matches_exact(tree: &mut PriorityTree, leaves: &[f64]) {
        tree.flush();
        let exact = PriorityTree::from_leaves(tree.capacity(), leaves);
        for (ours, exact) in [(&tree.sums, &exact.sums), (&tree.mins, &exact.mins)] {
            for (level, exact_level) in ours.iter().zip(exact) {
                for (a, b) in level.iter().zip(exact_level) {
                    assert_eq!(a.0.map(f64::to_bits), b.0.map(f64::to_bits));
                }
            }
        }
    }

    #[test]
    fn set_then_read_equals_an_exact_rebuild_bitwise() {
        let capacity = 1000;
        let mut tree = PriorityTree::new(capacity);
        let mut leaves = vec![0.0; capacity];
        let mut rng = crate::rng::seeded(3);
        for round in 0..200 {
            let mut slots: Vec<u64> = (0..40)
                .map(|_| crate::rng::index(&mut rng, capacity) as u64)
                .collect();
            if round % 2 == 0 {
                slots.sort_unstable();
            }
            let vals: Vec<f64> = (0..40)
                .map(|_| {
                    let u = crate::rng::unit(&mut rng);
                    // Mix large, small and emptied leaves.
                    if u < 0.1 {
                        0.0
                    } else {
                        u.powi(4) * 1e3
                    }
                })
                .collect();
            tree.set(&slots, &vals);
            for (&s, &v) in slots.iter().zip(&vals) {
                leaves[s as usize] = v;
            }
            // Read only every third round: batching must not change the bits.
            if round % 3 == 0 {
                assert_matches_exact(&mut tree, &leaves);
            }
        }
        assert_matches_exact(&mut tree, &leaves);
    }

    #[test]
    fn descend_matches_naive_prefix_search() {
        let capacity = 777;
        let values: Vec<f64> = (0..capacity)
            .map(|i| {
                if i % 5 == 0 {
                    0.0
                } else {
                    (i % 13) as f64 + 0.5
                }
            })
            .collect();
        let mut tree = PriorityTree::from_leaves(capacity, &values);
        let total = tree.total();
        let mut queries: Vec<f64> = (0..500).map(|k| k as f64 * total / 500.0).collect();
        let expected: Vec<usize> = queries.iter().map(|&u| naive_find(&values, u)).collect();
        let mut slots = vec![0; queries.len()];
        let mut got = vec![0.0; queries.len()];
        tree.descend(&mut queries, &mut slots, &mut got);
        assert_eq!(slots, expected);
        for (&s, &v) in slots.iter().zip(&got) {
            assert_eq!(values[s], v);
            assert!(v > 0.0);
        }
    }

    #[test]
    fn query_at_or_past_total_lands_on_last_positive_leaf() {
        let values = [1.0, 2.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut tree = PriorityTree::from_leaves(10, &values);
        let mut q = [tree.total(), tree.total() * 2.0];
        let mut slots = [0; 2];
        let mut vals = [0.0; 2];
        tree.descend(&mut q, &mut slots, &mut vals);
        assert_eq!(slots, [3, 3]);
    }

    #[test]
    fn fill_sets_a_range() {
        let mut tree = PriorityTree::new(100);
        tree.fill(95, 5, 2.0);
        tree.fill(0, 3, 1.0);
        assert_eq!(tree.total(), 13.0);
        assert_eq!(tree.min(), 1.0);
        assert_eq!(tree.leaf(97), 2.0);
        assert_eq!(tree.leaf(50), 0.0);
    }
}
