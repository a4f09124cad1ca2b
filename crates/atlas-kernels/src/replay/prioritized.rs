//! Proportional prioritized replay (Schaul et al., 2016) over the wide sum/min tree.
//!
//! An item with priority `p` is stored as the leaf `(p + eps)^alpha` and drawn with
//! probability `P(i) = leaf_i / sum(leaf)`. Its importance weight is
//! `w_i = (N * P(i))^-beta / max_j (N * P(j))^-beta`, the maximum taken over every
//! stored item, which simplifies to `(min_leaf / leaf_i)^beta` (in `(0, 1]`).

use serde::{Deserialize, Serialize};

use super::pow::pow_batch;
use super::ring::IdRing;
use super::tree::PriorityTree;
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
        let mut out = [0.0];
        self.scale_into(&[p], &mut out);
        out[0]
    }

    /// `out[i] = (shifted[i])^alpha`, with the exponent's case decided once per batch:
    /// the common exponents skip `powf`, the dominant cost of a batch update.
    fn scale_into(&self, shifted: &[f64], out: &mut [f64]) {
        let pairs = out.iter_mut().zip(shifted);
        if self.alpha == 1.0 {
            pairs.for_each(|(o, &p)| *o = p);
        } else if self.alpha == 0.5 {
            pairs.for_each(|(o, &p)| *o = p.sqrt());
        } else if self.alpha == 0.0 {
            pairs.for_each(|(o, _)| *o = 1.0);
        } else {
            pow_batch(shifted, self.alpha, out);
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
            let mut weights = vec![0.0; batch];
            pow_batch(&leaves, beta, &mut weights);
            weights
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
    pub fn update_priorities(&mut self, slots: &[u64], priorities: &[f64]) -> Result<()> {
        check_len("priorities", priorities.len(), slots.len())?;
        // Each check is a counting pass (vectorised); only the error path looks further.
        let len = self.ring.len() as u64;
        if slots.iter().filter(|&&s| s >= len).count() > 0 {
            let bad = slots.iter().copied().find(|&s| s >= len).unwrap_or(0);
            self.check_slot(bad)?;
        }
        let in_domain = |p: f64| (0.0..f64::INFINITY).contains(&p);
        if priorities.iter().filter(|&&p| !in_domain(p)).count() > 0 {
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
        let eps = self.eps;
        let shifted: Vec<f64> = priorities.iter().map(|&p| p + eps).collect();
        let mut leaves = vec![0.0; shifted.len()];
        self.scale_into(&shifted, &mut leaves);
        let usable = |l: f64| l > 0.0 && l < f64::INFINITY;
        if leaves.iter().filter(|&&l| !usable(l)).count() > 0 {
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
        let max = shifted
            .iter()
            .fold(self.max_priority, |m, &p| if p > m { p } else { m });
        self.max_priority = max;
        self.tree.set(slots, &leaves);
        Ok(())
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
        r.update_priorities(&[0], &[4.0]).unwrap();
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
