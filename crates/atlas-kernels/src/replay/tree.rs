//! A wide (8-ary) sum-and-min tree over `f64` leaf priorities, laid out for cache misses.
//!
//! Why this shape: at a million leaves the tree does not fit in L1/L2, so the cost of
//! sampling and updating is the number of cache lines touched and how many of those
//! misses can be in flight at once.
//!
//! * **8-ary, one cache line per node's children.** Eight `f64` children fill one
//!   64-byte line, so a descent touches 7 lines for a million leaves instead of the 20
//!   a binary tree touches, and choosing among the 8 children costs no extra miss.
//! * **Sum and min of a group side by side** (`Group`, 128 bytes, two adjacent lines):
//!   an update recomputes both with the same miss, and the min tree costs no separate walk.
//! * **Leaves stored once.** The min of a leaf lane is taken over its positive leaves
//!   (an empty slot is `0.0`), so the leaves are not duplicated for the min tree.
//! * **Level-by-level batches.** [`PriorityTree::descend`] moves every query one level
//!   down before any goes further, and [`PriorityTree::set`] recomputes one level of
//!   dirty parents at a time (deduplicated): the loads of one level are independent, so
//!   the CPU overlaps their misses, and shared ancestors near the root are done once.
//! * **`f64`, recomputed, never delta-updated.** A parent is always recomputed from its
//!   children in a fixed order, so the tree is a pure function of its leaves: no drift
//!   after millions of updates, and a tree rebuilt from saved leaves is bit-identical,
//!   which is what makes a restored sampler repeat the same draws. `f64` because with
//!   `f32` the root of a million priorities near 1 carries an absolute error near 0.06,
//!   enough to misplace the query of a small-priority item; with `f64` it is ~1e-10.

/// Children per node (one cache line of `f64`).
pub const FANOUT: usize = 8;

/// One cache line of leaf priorities.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Lane([f64; FANOUT]);

/// The sums and mins of eight sibling nodes: two adjacent cache lines.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(128))]
struct Group {
    sum: [f64; FANOUT],
    min: [f64; FANOUT],
}

impl Group {
    const EMPTY: Group = Group {
        sum: [0.0; FANOUT],
        min: [f64::INFINITY; FANOUT],
    };
}

/// Sum of eight values in a fixed pairwise order (vectorises; deterministic).
#[inline(always)]
fn sum8(v: &[f64; FANOUT]) -> f64 {
    ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

#[inline(always)]
fn min8(v: &[f64; FANOUT]) -> f64 {
    (v[0].min(v[1]).min(v[2].min(v[3]))).min(v[4].min(v[5]).min(v[6].min(v[7])))
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
/// the offset within that child. Zero children are never picked; if rounding pushed
/// `*rest` past the last positive child, that child is taken (at its far end).
#[inline(always)]
fn pick(vals: &[f64; FANOUT], rest: &mut f64) -> usize {
    let mut r = *rest;
    let mut last = 0;
    for (c, &v) in vals.iter().enumerate() {
        if v > 0.0 {
            if r < v {
                *rest = r;
                return c;
            }
            r -= v;
            last = c;
        }
    }
    *rest = vals[last];
    last
}

/// Sorts (if needed) and deduplicates `v` in place.
fn sort_dedup(v: &mut Vec<usize>) {
    if !v.windows(2).all(|w| w[0] <= w[1]) {
        v.sort_unstable();
    }
    v.dedup();
}

/// The sum tree and min tree over `capacity` leaf priorities. A leaf of `0.0` is an
/// empty slot: it is never sampled and does not count towards the minimum.
#[derive(Clone, Debug)]
pub struct PriorityTree {
    capacity: usize,
    leaves: Vec<Lane>,
    /// `levels[0]` holds one value per leaf lane; each next level one per group of the
    /// previous; the last level is a single group (the root's children).
    levels: Vec<Vec<Group>>,
    /// Reused scratch for the dirty indices of [`PriorityTree::set`].
    dirty: Vec<usize>,
}

impl PriorityTree {
    /// An all-empty tree over `capacity > 0` leaves.
    pub fn new(capacity: usize) -> Self {
        let lanes = capacity.div_ceil(FANOUT).max(1);
        let mut levels = Vec::new();
        let mut values = lanes;
        loop {
            let groups = values.div_ceil(FANOUT);
            levels.push(vec![Group::EMPTY; groups]);
            if groups == 1 {
                break;
            }
            values = groups;
        }
        PriorityTree {
            capacity,
            leaves: vec![Lane::default(); lanes],
            levels,
            dirty: Vec::new(),
        }
    }

    /// A tree whose leaves are `values` (`values.len() <= capacity`, the rest empty).
    pub fn from_leaves(capacity: usize, values: &[f64]) -> Self {
        let mut tree = PriorityTree::new(capacity);
        for (i, &v) in values.iter().enumerate() {
            tree.leaves[i / FANOUT].0[i % FANOUT] = v;
        }
        tree.rebuild();
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

    fn root(&self) -> &Group {
        &self.levels[self.levels.len() - 1][0]
    }

    /// Sum of all leaves.
    pub fn total(&self) -> f64 {
        sum8(&self.root().sum)
    }

    /// Smallest positive leaf; `inf` when every leaf is empty.
    pub fn min(&self) -> f64 {
        min8(&self.root().min)
    }

    /// Recomputes value `j` of level `k` from its children.
    #[inline(always)]
    fn recompute(&mut self, k: usize, j: usize) {
        let (sum, min) = if k == 0 {
            let lane = &self.leaves[j].0;
            (sum8(lane), positive_min8(lane))
        } else {
            let child = &self.levels[k - 1][j];
            (sum8(&child.sum), min8(&child.min))
        };
        let parent = &mut self.levels[k][j / FANOUT];
        parent.sum[j % FANOUT] = sum;
        parent.min[j % FANOUT] = min;
    }

    /// Recomputes every internal value from the leaves.
    fn rebuild(&mut self) {
        for k in 0..self.levels.len() {
            let values = if k == 0 {
                self.leaves.len()
            } else {
                self.levels[k - 1].len()
            };
            for j in 0..values {
                self.recompute(k, j);
            }
        }
    }

    /// Sets leaf `slots[i]` to `values[i]` (`0.0` empties it); with repeated slots the
    /// last value wins. Slots must be `< capacity` (checked by the caller).
    pub fn set(&mut self, slots: &[usize], values: &[f64]) {
        debug_assert_eq!(slots.len(), values.len());
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.clear();
        for (&s, &v) in slots.iter().zip(values) {
            self.leaves[s / FANOUT].0[s % FANOUT] = v;
            dirty.push(s / FANOUT);
        }
        self.propagate(&mut dirty);
        self.dirty = dirty;
    }

    /// Sets the leaves `start..start + n` to `value`.
    pub fn fill(&mut self, start: usize, n: usize, value: f64) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.clear();
        for s in start..start + n {
            self.leaves[s / FANOUT].0[s % FANOUT] = value;
        }
        if n > 0 {
            dirty.extend(start / FANOUT..=(start + n - 1) / FANOUT);
        }
        self.propagate(&mut dirty);
        self.dirty = dirty;
    }

    /// Recomputes the ancestors of the leaf lanes in `dirty`, one level at a time.
    fn propagate(&mut self, dirty: &mut Vec<usize>) {
        sort_dedup(dirty);
        for k in 0..self.levels.len() {
            for &j in dirty.iter() {
                self.recompute(k, j);
            }
            // Parents of a sorted list are sorted: dedup is enough.
            for j in dirty.iter_mut() {
                *j /= FANOUT;
            }
            dirty.dedup();
        }
    }

    /// Finds, for each query `u` in `queries` (each in `[0, total)`), the leaf whose
    /// cumulative range holds it; writes the slot and the leaf's value. The tree must
    /// not be empty. All queries go down one level together so their misses overlap.
    pub fn descend(&self, queries: &mut [f64], slots: &mut [usize], values: &mut [f64]) {
        debug_assert!(queries.len() == slots.len() && slots.len() == values.len());
        let top = self.levels.len() - 1;
        for (u, node) in queries.iter_mut().zip(slots.iter_mut()) {
            *node = pick(&self.root().sum, u);
        }
        for k in (0..top).rev() {
            let level = &self.levels[k];
            for (u, node) in queries.iter_mut().zip(slots.iter_mut()) {
                *node = *node * FANOUT + pick(&level[*node].sum, u);
            }
        }
        for ((u, node), value) in queries.iter_mut().zip(slots.iter_mut()).zip(values) {
            let lane = &self.leaves[*node].0;
            let c = pick(lane, u);
            *node = *node * FANOUT + c;
            *value = lane[c];
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
            let tree = PriorityTree::from_leaves(capacity, &values);
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

    #[test]
    fn set_equals_rebuild_bitwise() {
        let capacity = 1000;
        let mut tree = PriorityTree::new(capacity);
        let mut leaves = vec![0.0; capacity];
        let mut rng = crate::rng::seeded(3);
        for _ in 0..50 {
            let slots: Vec<usize> = (0..40)
                .map(|_| crate::rng::index(&mut rng, capacity))
                .collect();
            let vals: Vec<f64> = (0..40).map(|_| crate::rng::unit(&mut rng)).collect();
            tree.set(&slots, &vals);
            for (&s, &v) in slots.iter().zip(&vals) {
                leaves[s] = v;
            }
            let rebuilt = PriorityTree::from_leaves(capacity, &leaves);
            assert_eq!(tree.total().to_bits(), rebuilt.total().to_bits());
            assert_eq!(tree.min().to_bits(), rebuilt.min().to_bits());
        }
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
        let tree = PriorityTree::from_leaves(capacity, &values);
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
        let tree = PriorityTree::from_leaves(10, &values);
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
