//! Proportional prioritized replay (Schaul et al., 2016) over the wide sum/min tree.
//!
//! An item with priority `p` is stored as the leaf `(p + eps)^alpha` and drawn with
//! probability `P(i) = leaf_i / sum(leaf)`. Its importance weight is
//! `w_i = (N * P(i))^-beta / max_j (N * P(j))^-beta`, the maximum taken over every
//! stored item, which simplifies to `(min_leaf / leaf_i)^beta` (in `(0, 1]`).

use serde::{Deserialize, Serialize};

use super::pow::pow_in_place;
use super::ring::IdRing;
use super::tree::{PriorityTree, SlotIndex};
use super::{check_at_least, check_capacity};
use crate::error::{check_len, KernelError, Result};
use crate::rng::{self, KernelRng};

/// One draw of a prioritized batch: slot, id and importance weight per item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrioritizedBatch {
    /// The slots drawn, in increasing order (one per segment of the total mass).
    pub slots: Vec<u64>,
    /// The id held in each slot.
    pub ids: Vec<u64>,
    /// The normalised importance weight of each draw.
    pub weights: Vec<f64>,
}

/// Prioritized replay over a FIFO ring of `capacity` ids.
#[derive(Clone, Debug)]
pub struct PrioritizedReplay {
    ring: IdRing,
    alpha: f64,
    beta: f64,
    eps: f64,
    /// Largest `p + eps` seen so far; new items enter with it. 1.0 initially.
    max_priority: f64,
    tree: PriorityTree,
    rng: KernelRng,
    /// Reused by [`Self::update_priorities`] for a batch's new leaves (not state).
    scratch: Vec<f64>,
}

/// The largest update buffer kept between calls (in `f64`s, 128 KiB): a one-off huge
/// update does not pin its memory.
const KEPT_SCRATCH: usize = 1 << 14;

/// Whether `p` is a priority: finite and `>= 0`.
#[inline(always)]
fn in_domain(p: f64) -> bool {
    (0.0..f64::INFINITY).contains(&p)
}

/// Whether `l` can be a leaf: positive and finite.
#[inline(always)]
fn usable(l: f64) -> bool {
    l > 0.0 && l < f64::INFINITY
}

/// One pass over a batch: `shifted[i] = priorities[i] + eps`, whether every slot is
/// below `len` and every priority in the domain, and the largest `p + eps` (from
/// `max`; meaningless when the batch is invalid).
fn prepare<S: SlotIndex>(
    slots: &[S],
    priorities: &[f64],
    eps: f64,
    len: u64,
    max: f64,
    shifted: &mut [f64],
) -> (bool, f64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { prepare_avx2(slots, priorities, eps, len, max, shifted) };
    }
    prepare_portable(slots, priorities, eps, len, max, shifted)
}

/// [`prepare`] compiled for AVX2, which has the 64-bit compares the slot check needs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn prepare_avx2<S: SlotIndex>(
    slots: &[S],
    priorities: &[f64],
    eps: f64,
    len: u64,
    max: f64,
    shifted: &mut [f64],
) -> (bool, f64) {
    prepare_portable(slots, priorities, eps, len, max, shifted)
}

#[inline(always)]
fn prepare_portable<S: SlotIndex>(
    slots: &[S],
    priorities: &[f64],
    eps: f64,
    len: u64,
    max: f64,
    shifted: &mut [f64],
) -> (bool, f64) {
    // `&` rather than `&&` and no early exit, so each loop vectorises.
    let slots_ok = slots.iter().fold(true, |ok, &s| ok & (s.to_u64() < len));
    let priorities_ok = priorities.iter().fold(true, |ok, &p| ok & in_domain(p));
    for (out, &p) in shifted.iter_mut().zip(priorities) {
        *out = p + eps;
    }
    // Four running maxima (max is exact in any order), so the compares overlap.
    let mut lanes = [max; 4];
    let mut chunks = shifted.chunks_exact(4);
    for chunk in &mut chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = if x > *m { x } else { *m };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(max, |m, &x| if x > m { x } else { m });
    (slots_ok & priorities_ok, max)
}

/// Whether every leaf is [`usable`], in a branch-free pass.
fn all_usable(leaves: &[f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { all_usable_avx2(leaves) };
    }
    all_usable_portable(leaves)
}

/// [`all_usable`] compiled for AVX2 (four compares at once).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn all_usable_avx2(leaves: &[f64]) -> bool {
    all_usable_portable(leaves)
}

#[inline(always)]
fn all_usable_portable(leaves: &[f64]) -> bool {
    leaves
        .iter()
        .fold(true, |ok, &l| ok & (l > 0.0) & (l < f64::INFINITY))
}

/// What [`PrioritizedReplay::save_state`] writes: the leaves, not the tree (which is a
/// pure function of them, so it is rebuilt bit-identically).
#[derive(Serialize, Deserialize)]
struct Saved {
    ring: IdRing,
    alpha: f64,
    beta: f64,
    eps: f64,
    max_priority: f64,
    leaves: Vec<f64>,
    rng: KernelRng,
}

impl PrioritizedReplay {
    /// An empty replay. `alpha >= 0` shapes priorities (0 = uniform), `beta >= 0` is the
    /// default importance-weight exponent, `eps >= 0` is added to every priority.
    pub fn new(capacity: usize, alpha: f64, beta: f64, eps: f64, seed: u64) -> Result<Self> {
        check_capacity("capacity", capacity)?;
        check_at_least("alpha", alpha, 0.0)?;
        check_at_least("beta", beta, 0.0)?;
        check_at_least("eps", eps, 0.0)?;
        Ok(PrioritizedReplay {
            ring: IdRing::new(capacity),
            alpha,
            beta,
            eps,
            max_priority: 1.0,
            tree: PriorityTree::new(capacity),
            rng: rng::seeded(seed),
            scratch: Vec::new(),
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no id has been added yet.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// The priority exponent.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The default importance-weight exponent.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Sets the default importance-weight exponent (e.g. annealed towards 1).
    pub fn set_beta(&mut self, beta: f64) -> Result<()> {
        check_at_least("beta", beta, 0.0)?;
        self.beta = beta;
        Ok(())
    }

    /// The constant added to every priority.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// `sum_i (p_i + eps)^alpha` over the stored items (the sum tree's root).
    pub fn total_priority(&mut self) -> f64 {
        self.tree.total()
    }

    /// `min_i (p_i + eps)^alpha` over the stored items (the min tree's root); `None` when empty.
    pub fn min_priority(&mut self) -> Option<f64> {
        let m = self.tree.min();
        m.is_finite().then_some(m)
    }

    /// The largest `p + eps` seen so far (before `alpha`), which new items receive.
    pub fn max_priority(&self) -> f64 {
        self.max_priority
    }

    /// The ids held, by slot.
    pub fn ids(&self) -> &[u64] {
        self.ring.ids()
    }

    fn scale(&self, p: f64) -> f64 {
        let mut out = [p];
        self.scale_in_place(&mut out);
        out[0]
    }

    /// `values[i] = values[i]^alpha`, with the exponent's case decided once per batch:
    /// the common exponents skip the general power, the dominant cost of an update.
    fn scale_in_place(&self, values: &mut [f64]) {
        if self.alpha == 0.5 {
            values.iter_mut().for_each(|v| *v = v.sqrt());
        } else if self.alpha == 0.0 {
            values.fill(1.0);
        } else if self.alpha != 1.0 {
            pow_in_place(values, self.alpha);
        }
    }

    /// Appends `ids` at the maximum priority seen so far and returns the slot of each.
    pub fn add(&mut self, ids: &[u64]) -> Vec<u64> {
        let leaf = self.scale(self.max_priority);
        let (slots, runs) = self.ring.push(ids);
        for (start, n) in runs {
            self.tree.fill(start, n, leaf);
        }
        slots
    }

    /// Draws `batch` items proportionally to their priority, one from each of `batch`
    /// equal segments of the total mass (stratified, as in PER), with importance
    /// weights for exponent `beta` (the default when `None`).
    pub fn sample(&mut self, batch: usize, beta: Option<f64>) -> Result<PrioritizedBatch> {
        let beta = match beta {
            Some(b) => {
                check_at_least("beta", b, 0.0)?;
                b
            }
            None => self.beta,
        };
        if self.ring.len() == 0 {
            return Err(KernelError::Empty("prioritized replay"));
        }
        let total = self.tree.total();
        let segment = total / batch as f64;
        let mut queries: Vec<f64> = (0..batch)
            .map(|k| {
                let u = (k as f64 + rng::unit(&mut self.rng)) * segment;
                // Rounding can carry the last query to `total`; the tree then takes the
                // last non-empty leaf, which is the right answer anyway.
                u.min(total)
            })
            .collect();
        let mut slots = vec![0usize; batch];
        let mut leaves = vec![0.0; batch];
        self.tree.descend(&mut queries, &mut slots, &mut leaves);
        // The ids load while the weights are computed.
        for &s in &slots {
            super::tree::prefetch(&self.ring.ids()[s]);
        }
        let min = self.tree.min();
        let weights = if beta == 0.0 {
            vec![1.0; batch]
        } else {
            // (N P(i))^-beta / max_j (N P(j))^-beta = (min_leaf / leaf_i)^beta.
            for leaf in &mut leaves {
                *leaf = min / *leaf;
            }
            pow_in_place(&mut leaves, beta);
            leaves
        };
        let ids = slots.iter().map(|&s| self.ring.id(s)).collect();
        Ok(PrioritizedBatch {
            slots: slots.into_iter().map(|s| s as u64).collect(),
            ids,
            weights,
        })
    }

    fn check_slot(&self, slot: u64) -> Result<usize> {
        let len = self.ring.len();
        if (slot as usize) < len && slot <= usize::MAX as u64 {
            Ok(slot as usize)
        } else {
            Err(KernelError::invalid(
                "slots",
                format!("slot {slot} is out of range: {len} item(s) are stored"),
            ))
        }
    }

    /// Sets the priority of each slot (`priorities[i]` for `slots[i]`; for a repeated
    /// slot the last wins). All-or-nothing: every slot must hold an item and every
    /// priority be finite and `>= 0` (and `> 0` when `eps` is 0), or nothing changes.
    /// Slots may be `u64` or `i64` (a negative one is out of range).
    pub fn update_priorities<S: SlotIndex>(
        &mut self,
        slots: &[S],
        priorities: &[f64],
    ) -> Result<()> {
        check_len("priorities", priorities.len(), slots.len())?;
        // The leaves are computed into a buffer kept between calls (no allocation per
        // batch), and only written to the tree once the whole batch has passed.
        let mut leaves = std::mem::take(&mut self.scratch);
        leaves.clear();
        leaves.resize(slots.len(), 0.0);
        let outcome = self.compute_leaves(slots, priorities, &mut leaves);
        if let Ok(max) = outcome {
            self.max_priority = max;
            self.tree.set(slots, &leaves);
        }
        if leaves.capacity() <= KEPT_SCRATCH {
            self.scratch = leaves;
        }
        outcome.map(|_| ())
    }

    /// Writes `(priorities[i] + eps)^alpha` into `leaves` and returns the new maximum
    /// `p + eps`, or the error of the first bad argument (slots checked before
    /// priorities). The checks are branch-free passes that only say whether all is well;
    /// only a failing batch is searched for the culprit.
    fn compute_leaves<S: SlotIndex>(
        &self,
        slots: &[S],
        priorities: &[f64],
        leaves: &mut [f64],
    ) -> Result<f64> {
        let len = self.ring.len() as u64;
        let (valid, max) = prepare(slots, priorities, self.eps, len, self.max_priority, leaves);
        if !valid {
            if let Some(&bad) = slots.iter().find(|&&s| s.to_u64() >= len) {
                return Err(KernelError::invalid(
                    "slots",
                    format!("slot {bad} is out of range: {len} item(s) are stored"),
                ));
            }
            let bad = priorities
                .iter()
                .copied()
                .find(|&p| !in_domain(p))
                .unwrap_or(f64::NAN);
            return Err(KernelError::invalid(
                "priorities",
                format!("must be finite and >= 0, got {bad}"),
            ));
        }
        self.scale_in_place(leaves);
        if !all_usable(leaves) {
            let i = leaves.iter().position(|&l| !usable(l)).unwrap_or(0);
            return Err(KernelError::invalid(
                "priorities",
                format!(
                    "({} + eps)^alpha = {} is not a positive finite number \
                     (zero priority with eps = 0, or overflow)",
                    priorities[i], leaves[i]
                ),
            ));
        }
        Ok(max)
    }

    /// `P(i)` for each slot: the probability that one draw picks it.
    pub fn probabilities(&mut self, slots: &[u64]) -> Result<Vec<f64>> {
        let total = self.tree.total();
        slots
            .iter()
            .map(|&s| Ok(self.tree.leaf(self.check_slot(s)?) / total))
            .collect()
    }

    /// The whole state, generator included.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        let saved = Saved {
            ring: self.ring.clone(),
            alpha: self.alpha,
            beta: self.beta,
            eps: self.eps,
            max_priority: self.max_priority,
            leaves: (0..self.ring.len()).map(|s| self.tree.leaf(s)).collect(),
            rng: self.rng.clone(),
        };
        rng::save_state(rng::kind::PRIORITIZED, &saved)
    }

    /// Reverses [`PrioritizedReplay::save_state`].
    pub fn load_state(bytes: &[u8]) -> Result<Self> {
        let s: Saved = rng::load_state(rng::kind::PRIORITIZED, bytes)?;
        s.ring.validate()?;
        let params_ok = [s.alpha, s.beta, s.eps]
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0)
            && s.max_priority.is_finite()
            && s.max_priority > 0.0;
        let leaves_ok =
            s.leaves.len() == s.ring.len() && s.leaves.iter().all(|&l| l.is_finite() && l > 0.0);
        if !(params_ok && leaves_ok) {
            return Err(KernelError::State("inconsistent prioritized replay".into()));
        }
        Ok(PrioritizedReplay {
            tree: PriorityTree::from_leaves(s.ring.capacity(), &s.leaves),
            ring: s.ring,
            alpha: s.alpha,
            beta: s.beta,
            eps: s.eps,
            max_priority: s.max_priority,
            rng: s.rng,
            scratch: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_items_enter_at_max_priority() {
        let mut r = PrioritizedReplay::new(8, 0.5, 0.4, 0.0, 1).unwrap();
        r.add(&[1, 2]);
        assert_eq!(r.total_priority(), 2.0);
        r.update_priorities(&[0u64], &[4.0]).unwrap();
        assert_eq!(r.max_priority(), 4.0);
        assert_eq!(r.total_priority(), 3.0);
        r.add(&[3]);
        assert_eq!(r.total_priority(), 5.0);
        assert_eq!(r.min_priority(), Some(1.0));
    }

    #[test]
    fn weights_follow_the_formula() {
        let mut r = PrioritizedReplay::new(16, 0.7, 0.5, 1e-3, 5).unwrap();
        r.add(&(0..10).collect::<Vec<u64>>());
        let pr: Vec<f64> = (0..10).map(|i| 0.1 + i as f64).collect();
        r.update_priorities(&(0..10).collect::<Vec<u64>>(), &pr)
            .unwrap();
        let n = 10.0;
        let probs: Vec<f64> = {
            let scaled: Vec<f64> = pr.iter().map(|p| (p + 1e-3f64).powf(0.7)).collect();
            let total: f64 = scaled.iter().sum();
            scaled.iter().map(|s| s / total).collect()
        };
        let max_w = probs.iter().map(|p| (n * p).powf(-0.5)).fold(0.0, f64::max);
        let b = r.sample(64, None).unwrap();
        for (&s, &w) in b.slots.iter().zip(&b.weights) {
            let expected = (n * probs[s as usize]).powf(-0.5) / max_w;
            assert!((w - expected).abs() < 1e-12, "{w} vs {expected}");
        }
        assert!(b.slots.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn bad_input_is_refused_without_change() {
        let mut r = PrioritizedReplay::new(4, 0.6, 0.4, 0.0, 0).unwrap();
        assert!(matches!(r.sample(2, None), Err(KernelError::Empty(_))));
        r.add(&[7, 8]);
        let before = r.total_priority();
        for (slots, pr, name) in [
            (vec![0u64, 1], vec![1.0, f64::NAN], "priorities"),
            (vec![0, 1], vec![1.0, -1.0], "priorities"),
            (vec![0, 1], vec![f64::INFINITY, 1.0], "priorities"),
            (vec![0, 1], vec![0.0, 1.0], "priorities"),
            (vec![0, 2], vec![1.0, 1.0], "slots"),
            (vec![0], vec![1.0, 1.0], "priorities"),
        ] {
            match r.update_priorities(&slots, &pr) {
                Err(KernelError::InvalidArgument { name: got, .. }) => assert_eq!(got, name),
                other => panic!("expected an invalid-argument error, got {other:?}"),
            }
        }
        assert_eq!(r.total_priority(), before);
        assert!(PrioritizedReplay::new(4, f64::NAN, 0.4, 0.0, 0).is_err());
        assert!(r.sample(2, Some(-1.0)).is_err());
    }

    #[test]
    fn signed_slots_act_like_unsigned_and_negative_ones_are_refused() {
        let mut signed = PrioritizedReplay::new(64, 0.6, 0.4, 1e-6, 9).unwrap();
        signed.add(&(0..50).collect::<Vec<u64>>());
        let mut unsigned = signed.clone();
        // Lengths around the pow block size, with repeats (the last must win).
        for n in [1usize, 7, 8, 9, 33] {
            let slots: Vec<u64> = (0..n as u64).map(|i| (i * 13) % 50).collect();
            let pr: Vec<f64> = (0..n).map(|i| 0.25 + i as f64).collect();
            let as_i64: Vec<i64> = slots.iter().map(|&s| s as i64).collect();
            signed.update_priorities(&as_i64, &pr).unwrap();
            unsigned.update_priorities(&slots, &pr).unwrap();
        }
        assert_eq!(
            signed.total_priority().to_bits(),
            unsigned.total_priority().to_bits()
        );
        assert_eq!(signed.max_priority(), unsigned.max_priority());
        let before = signed.total_priority();
        match signed.update_priorities(&[3i64, -1], &[1.0, 2.0]) {
            Err(KernelError::InvalidArgument { name, reason }) => {
                assert_eq!(name, "slots");
                assert!(reason.contains("-1"), "{reason}");
            }
            other => panic!("expected an invalid-argument error, got {other:?}"),
        }
        assert_eq!(signed.total_priority(), before);
        assert_eq!(
            signed.sample(16, None).unwrap(),
            unsigned.sample(16, None).unwrap()
        );
    }

    #[test]
    fn restored_state_repeats_the_draws() {
        let mut r = PrioritizedReplay::new(1000, 0.6, 0.4, 1e-6, 42).unwrap();
        r.add(&(0..1500).collect::<Vec<u64>>());
        let slots: Vec<u64> = (0..1000).step_by(3).collect();
        let pr: Vec<f64> = slots.iter().map(|&s| (s % 17) as f64).collect();
        r.update_priorities(&slots, &pr).unwrap();
        let mut back = PrioritizedReplay::load_state(&r.save_state().unwrap()).unwrap();
        assert_eq!(
            back.total_priority().to_bits(),
            r.total_priority().to_bits()
        );
        for _ in 0..5 {
            assert_eq!(r.sample(32, None).unwrap(), back.sample(32, None).unwrap());
        }
    }
}
