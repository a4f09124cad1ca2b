//! RewardAggregator: streaming statistics per key (a learning key, a version, ...).
//!
//! Per key it keeps count, mean, sample variance, min and max ([`moments`]), an EMA with a
//! half-life counted in the key's events, the mean of the key's last N values, the mean over
//! a bucketed time window ([`window`]) and quantiles from a mergeable DDSketch ([`sketch`]).
//!
//! Merging (`a.merge(&b)`) is exact for everything that depends only on the set of events
//! (count, mean, variance, min, max, time window, sketch; up to float rounding of sums). For
//! the order-dependent EMA and last-N, `b`'s events are taken to come after `a`'s, per key:
//! the result equals one aggregator fed `a`'s stream and then `b`'s.

mod keys;
mod moments;
mod sketch;
mod snapshot;
mod str_key;
mod window;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub use keys::{BuildKeyHasher, KeyHasher};
pub use moments::Moments;
pub use sketch::{Sketch, SketchMapping, MIN_INDEXABLE, MIN_RELATIVE_ACCURACY};
use snapshot::exact_at_extremes;
pub use snapshot::{quantile_column_name, Snapshot};
pub use str_key::StrKey;
pub use window::{Ema, LastN, TimeWindow};

use crate::error::{check_len, KernelError, Result};
use crate::rng;

/// What a key may be: `i64` or [`StrKey`] (a string).
pub trait AggregatorKey: Hash + Eq + Ord + Clone + Serialize + DeserializeOwned + Send {
    /// Saved with the state so that a state is never decoded with the wrong key type.
    const TAG: KeyType;
}

/// A borrowed key (`i64`, `str`) that can make the owned key `K` it looks up.
pub trait KeyRef<K>: Hash + Eq {
    /// The owned key, stored when the key is seen for the first time.
    fn to_key(&self) -> K;
}

impl KeyRef<i64> for i64 {
    fn to_key(&self) -> i64 {
        *self
    }
}

impl KeyRef<StrKey> for str {
    fn to_key(&self) -> StrKey {
        StrKey::new(self)
    }
}

/// The key type of an aggregator, as recorded in its saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    Int,
    Str,
}

impl AggregatorKey for i64 {
    const TAG: KeyType = KeyType::Int;
}

impl AggregatorKey for StrKey {
    const TAG: KeyType = KeyType::Str;
}

/// The key type recorded in a saved aggregator state.
pub fn saved_key_type(bytes: &[u8]) -> Result<KeyType> {
    rng::load_state(rng::kind::AGGREGATOR, bytes)
}

/// The statistics every key carries, fixed at construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregatorConfig {
    /// EMA half-life, in events of the key: an event's weight halves after this many more.
    pub half_life: f64,
    /// How many of the key's newest values the last-N mean covers.
    pub last_n: usize,
    /// Length of the time window, in seconds.
    pub window_seconds: f64,
    /// Buckets the window is cut into; granularity = `window_seconds / window_buckets`.
    pub window_buckets: usize,
    /// Relative accuracy `α` of the quantile sketch.
    pub relative_accuracy: f64,
    /// Quantiles reported by the snapshot, each in `[0, 1]`.
    pub quantiles: Vec<f64>,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        Self {
            half_life: 100.0,
            last_n: 100,
            window_seconds: 3600.0,
            window_buckets: 60,
            relative_accuracy: 0.01,
            quantiles: vec![0.5, 0.9, 0.99],
        }
    }
}

/// How many keys ahead the grouped batch path prefetches, and for how many of that key's
/// events (measured on 100k events over 10k keys: 1.8x faster than without prefetching).
const PREFETCH_AHEAD: usize = 4;
const PREFETCH_MAX_EVENTS: usize = 16;

/// Asks the CPU to start loading the cache line at `ptr` (ignored when null). A hint only.
#[inline(always)]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    if !ptr.is_null() {
        // SAFETY: `prefetcht0` only fills a cache line; it cannot fault or change memory,
        // whatever the address (and `ptr` points into a live allocation anyway).
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Batches at least this long are grouped by key before they are applied.
const GROUPED_BATCH_MIN: usize = 256;

/// Upper bounds that keep one key's memory reasonable.
const MAX_LAST_N: usize = 1 << 20;
const MAX_WINDOW_BUCKETS: usize = 1 << 16;

impl AggregatorConfig {
    /// Checks every field, naming the first one out of its domain.
    pub fn validate(&self) -> Result<()> {
        if !(self.half_life.is_finite() && self.half_life > 0.0) {
            return Err(KernelError::invalid(
                "half_life",
                format!(
                    "must be a positive finite number of events, got {}",
                    self.half_life
                ),
            ));
        }
        if self.last_n == 0 || self.last_n > MAX_LAST_N {
            return Err(KernelError::invalid(
                "last_n",
                format!("must be in 1..={MAX_LAST_N}, got {}", self.last_n),
            ));
        }
        if !(self.window_seconds.is_finite() && self.window_seconds > 0.0) {
            return Err(KernelError::invalid(
                "window_seconds",
                format!(
                    "must be a positive finite number of seconds, got {}",
                    self.window_seconds
                ),
            ));
        }
        if self.window_buckets == 0 || self.window_buckets > MAX_WINDOW_BUCKETS {
            return Err(KernelError::invalid(
                "window_buckets",
                format!(
                    "must be in 1..={MAX_WINDOW_BUCKETS}, got {}",
                    self.window_buckets
                ),
            ));
        }
        SketchMapping::new(self.relative_accuracy)?;
        if let Some(q) = self.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(KernelError::invalid(
                "quantiles",
                format!("each must be in [0, 1], got {q}"),
            ));
        }
        let mut names: Vec<String> = self
            .quantiles
            .iter()
            .map(|&q| quantile_column_name(q))
            .collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(KernelError::invalid(
                "quantiles",
                format!("lists {} twice", w[0]),
            ));
        }
        Ok(())
    }

    /// Seconds per window bucket.
    pub fn granularity(&self) -> f64 {
        self.window_seconds / self.window_buckets as f64
    }
}

/// Everything kept for one key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct KeyStats {
    moments: Moments,
    ema: Ema,
    last: LastN,
    window: TimeWindow,
    sketch: Sketch,
}

/// Streaming per-key statistics; see the module documentation for what merge means.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: DeserializeOwned"))]
pub struct RewardAggregator<K: AggregatorKey> {
    config: AggregatorConfig,
    mapping: SketchMapping,
    /// `2^(−1/half_life)`, cached.
    decay: f64,
    keys: Vec<K>,
    stats: Vec<KeyStats>,
    /// Newest timestamp seen: the default end of the time window.
    watermark: f64,
    total: u64,
    // Rebuilt from `keys` on load, so it is not saved.
    #[serde(skip)]
    index: HashMap<K, usize, BuildKeyHasher>,
}

impl<K: AggregatorKey> RewardAggregator<K> {
    /// An empty aggregator; fails on an invalid configuration.
    pub fn new(config: AggregatorConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            mapping: SketchMapping::new(config.relative_accuracy)?,
            decay: (-1.0 / config.half_life).exp2(),
            config,
            keys: Vec::new(),
            stats: Vec::new(),
            watermark: f64::NEG_INFINITY,
            total: 0,
            index: HashMap::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no event was added yet.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of events added (over all keys).
    pub fn total_count(&self) -> u64 {
        self.total
    }

    /// Newest timestamp seen, `-inf` before the first event.
    pub fn watermark(&self) -> f64 {
        self.watermark
    }

    #[inline]
    fn slot_of<Q>(&mut self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: KeyRef<K> + ?Sized,
    {
        self.slot_or_insert(key, || key.to_key())
    }

    /// The slot of `key`, creating it with `make()` as the owned key when it is new.
    #[inline]
    fn slot_or_insert<Q>(&mut self, key: &Q, make: impl FnOnce() -> K) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(&slot) = self.index.get(key) {
            return slot;
        }
        let slot = self.keys.len();
        let owned = make();
        self.keys.push(owned.clone());
        self.stats.push(KeyStats::default());
        self.index.insert(owned, slot);
        slot
    }

    #[inline]
    fn add_unchecked(&mut self, slot: usize, value: f64, timestamp: f64) {
        let cfg = &self.config;
        let bucket = (timestamp / cfg.granularity()).floor() as i64;
        let s = &mut self.stats[slot];
        s.moments.add(value);
        s.ema.add(value, self.decay);
        s.last.add(value, cfg.last_n);
        s.window.add(bucket, value, cfg.window_buckets);
        s.sketch.add(&self.mapping, value);
        self.watermark = self.watermark.max(timestamp);
        self.total += 1;
    }

    /// Prefetches what adding `events` (indices into `values`, with times from `time_of`) to
    /// `slot` will touch: the last-N ring position, the window slots and the sketch counters.
    #[inline]
    fn prefetch_key(
        &self,
        slot: usize,
        events: &[u32],
        values: &[f64],
        time_of: impl Fn(usize) -> f64,
    ) {
        let s = &self.stats[slot];
        let granularity = self.config.granularity();
        prefetch(s.last.next_ptr(self.config.last_n));
        let mut last_bucket = None;
        for &i in events.iter().take(PREFETCH_MAX_EVENTS) {
            let i = i as usize;
            prefetch(s.sketch.counter_ptr(&self.mapping, values[i]));
            let bucket = (time_of(i) / granularity).floor() as i64;
            if last_bucket != Some(bucket) {
                prefetch(s.window.slot_ptr(bucket));
                last_bucket = Some(bucket);
            }
        }
    }

    /// Adds one event; `value` and `timestamp` (Unix seconds) must be finite.
    pub fn add<Q>(&mut self, key: &Q, value: f64, timestamp: f64) -> Result<()>
    where
        K: Borrow<Q>,
        Q: KeyRef<K> + ?Sized,
    {
        check_finite("value", value)?;
        check_finite("timestamp", timestamp)?;
        let slot = self.slot_of(key);
        self.add_unchecked(slot, value, timestamp);
        Ok(())
    }

    /// Adds a batch in order. All columns must have equal lengths; `timestamps` is either one
    /// per event or `None` with `now` used for all. A NaN/inf value or timestamp rejects the
    /// whole batch before anything is added.
    pub fn add_batch<'q, Q, I>(
        &mut self,
        keys: I,
        values: &[f64],
        timestamps: Option<&[f64]>,
        now: f64,
    ) -> Result<()>
    where
        K: Borrow<Q>,
        Q: KeyRef<K> + ?Sized + 'q,
        I: ExactSizeIterator<Item = &'q Q>,
    {
        let n = keys.len();
        check_len("values", values.len(), n)?;
        check_all_finite("values", values)?;
        if let Some(ts) = timestamps {
            check_len("timestamps", ts.len(), n)?;
            check_all_finite("timestamps", ts)?;
        } else {
            check_finite("timestamp", now)?;
        }
        let time_of = |i: usize| timestamps.map_or(now, |ts| ts[i]);
        let slots: Vec<usize> = keys.map(|k| self.slot_of(k)).collect();
        if n < GROUPED_BATCH_MIN || n > u32::MAX as usize {
            for (i, &slot) in slots.iter().enumerate() {
                self.add_unchecked(slot, values[i], time_of(i));
            }
            return Ok(());
        }
        // Memory-bound otherwise: visit each key once with all its events, in arrival order
        // (a stable counting sort by slot), so its statistics are fetched into cache once.
        let mut starts = vec![0usize; self.keys.len() + 1];
        for &slot in &slots {
            starts[slot + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut order = vec![0u32; n];
        let mut next = starts.clone();
        for (i, &slot) in slots.iter().enumerate() {
            order[next[slot]] = i as u32;
            next[slot] += 1;
        }
        for slot in 0..self.keys.len() {
            // Start loading a later key's memory while this one is updated: the updates are
            // bound by cache misses on per-key heap blocks, which can overlap.
            let ahead = slot + PREFETCH_AHEAD;
            if ahead < self.keys.len() {
                self.prefetch_key(
                    ahead,
                    &order[starts[ahead]..starts[ahead + 1]],
                    values,
                    time_of,
                );
            }
            for &i in &order[starts[slot]..starts[slot + 1]] {
                let i = i as usize;
                self.add_unchecked(slot, values[i], time_of(i));
            }
        }
        Ok(())
    }

    /// Folds `other` in: exact for set statistics; for EMA and last-N, `other`'s events count
    /// as later than `self`'s. Both must have the same configuration.
    pub fn merge(&mut self, other: &RewardAggregator<K>) -> Result<()> {
        if self.config != other.config {
            return Err(KernelError::invalid(
                "other",
                "aggregators must have the same configuration to merge",
            ));
        }
        for (key, theirs) in other.keys.iter().zip(&other.stats) {
            let slot = self.slot_or_insert(key, || key.clone());
            let cfg = &self.config;
            let ours = &mut self.stats[slot];
            ours.ema
                .append(&theirs.ema, theirs.moments.count, cfg.half_life);
            ours.last.append(&theirs.last, cfg.last_n);
            ours.moments.merge(&theirs.moments);
            ours.window.merge(&theirs.window, cfg.window_buckets);
            ours.sketch.merge(&theirs.sketch);
        }
        self.watermark = self.watermark.max(other.watermark);
        self.total += other.total;
        Ok(())
    }

    /// The estimate of `key`'s lower `q`-quantile (within the sketch's bound), or `None` for an unknown key.
    pub fn quantile<Q>(&self, key: &Q, q: f64) -> Result<Option<f64>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if !(0.0..=1.0).contains(&q) {
            return Err(KernelError::invalid(
                "q",
                format!("must be in [0, 1], got {q}"),
            ));
        }
        Ok(self.index.get(key).map(|&slot| self.quantile_of(slot, q)))
    }

    fn quantile_of(&self, slot: usize, q: f64) -> f64 {
        let s = &self.stats[slot];
        exact_at_extremes(&s.moments, q, s.sketch.quantile(&self.mapping, q))
    }

    /// Whether `key`'s sketch has the same bucket counts as `other`'s (for tests of exact merging).
    pub fn same_sketch<Q>(&self, other: &RewardAggregator<K>, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match (self.index.get(key), other.index.get(key)) {
            (Some(&a), Some(&b)) => self.stats[a].sketch.same_counts(&other.stats[b].sketch),
            _ => false,
        }
    }

    /// The whole state as bytes ([`rng::save_state`] format, kind `AGGREGATOR`).
    pub fn save(&self) -> Result<Vec<u8>> {
        rng::save_state(rng::kind::AGGREGATOR, &(K::TAG, self))
    }

    /// Restores a state written by [`save`](Self::save) for the same key type.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let saved = saved_key_type(bytes)?;
        if saved != K::TAG {
            return Err(KernelError::State(format!(
                "state has {saved:?} keys, expected {:?}",
                K::TAG
            )));
        }
        let (_, mut agg): (KeyType, Self) = rng::load_state(rng::kind::AGGREGATOR, bytes)?;
        agg.config
            .validate()
            .map_err(|e| KernelError::State(e.to_string()))?;
        // Derived fields are recomputed rather than trusted.
        agg.mapping = SketchMapping::new(agg.config.relative_accuracy)?;
        agg.decay = (-1.0 / agg.config.half_life).exp2();
        if agg.keys.len() != agg.stats.len() {
            return Err(KernelError::State(
                "key and statistics counts differ".into(),
            ));
        }
        let cfg = &agg.config;
        for s in &agg.stats {
            if !s.window.is_consistent(cfg.window_buckets) || !s.last.is_consistent(cfg.last_n) {
                return Err(KernelError::State(
                    "per-key window sizes do not match the configuration".into(),
                ));
            }
        }
        agg.index = agg
            .keys
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect();
        if agg.index.len() != agg.keys.len() {
            return Err(KernelError::State("duplicate keys".into()));
        }
        Ok(agg)
    }
}

/// Fails with an error naming `name` unless `x` is finite.
pub fn check_finite(name: &'static str, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(KernelError::invalid(
            name,
            format!("must be finite, got {x}"),
        ))
    }
}

/// Fails naming `name` and the first offending position unless every element is finite.
pub fn check_all_finite(name: &'static str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(KernelError::invalid(
            name,
            format!(
                "element {i} is {} (NaN and infinities are rejected; nothing was added)",
                xs[i]
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
