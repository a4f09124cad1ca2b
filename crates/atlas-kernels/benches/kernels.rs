//! Criterion benches of the kernels' hot paths (`cargo bench -p atlas-kernels`).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    reward_aggregator::benches(c);
    drift_detectors::benches(c);
}

/// RewardAggregator: a 100k-event batch over 10k keys into a 1M-event history; a snapshot.
mod reward_aggregator {
    use std::hint::black_box;

    use atlas_kernels::aggregator::{AggregatorConfig, RewardAggregator};
    use atlas_kernels::rng;
    use criterion::{Criterion, Throughput};

    const KEYS: usize = 10_000;
    const BATCH: usize = 100_000;

    fn events(seed: u64, n: usize) -> (Vec<i64>, Vec<f64>) {
        let mut r = rng::seeded(seed);
        let keys = (0..n).map(|_| rng::index(&mut r, KEYS) as i64).collect();
        let values = (0..n).map(|_| rng::unit(&mut r)).collect();
        (keys, values)
    }

    pub fn benches(c: &mut Criterion) {
        let mut agg = RewardAggregator::<i64>::new(AggregatorConfig::default()).expect("config");
        let (hk, hv) = events(1, 1_000_000);
        agg.add_batch(hk.iter(), &hv, None, 1.7e9).expect("history");
        let (bk, bv) = events(2, BATCH);
        let mut group = c.benchmark_group("aggregator");
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function("add_batch_100k_10k_keys", |b| {
            b.iter(|| agg.add_batch(bk.iter(), black_box(&bv), None, 1.7e9))
        });
        group.throughput(Throughput::Elements(KEYS as u64));
        group.bench_function("snapshot_10k_keys", |b| b.iter(|| agg.snapshot(None)));
        group.finish();
    }
}

/// ADWIN and Page–Hinkley: 100k values through `update_batch`.
mod drift_detectors {
    use std::hint::black_box;

    use atlas_kernels::drift::{Adwin, DriftDetector, PageHinkley};
    use atlas_kernels::rng;
    use criterion::{Criterion, Throughput};

    const N: usize = 100_000;

    pub fn benches(c: &mut Criterion) {
        let mut r = rng::seeded(3);
        let xs: Vec<f64> = (0..N)
            .map(|i| {
                let p = if i < N / 2 { 0.8 } else { 0.5 };
                f64::from(u8::from(rng::unit(&mut r) < p))
            })
            .collect();
        let mut group = c.benchmark_group("drift");
        group.throughput(Throughput::Elements(N as u64));
        group.bench_function("adwin_update_batch_100k", |b| {
            b.iter(|| {
                Adwin::new(Default::default()).and_then(|mut d| d.update_batch(black_box(&xs)))
            })
        });
        group.bench_function("page_hinkley_update_batch_100k", |b| {
            b.iter(|| {
                PageHinkley::new(Default::default())
                    .and_then(|mut d| d.update_batch(black_box(&xs)))
            })
        });
        group.finish();
    }
}

criterion_group!(kernels, benches);
criterion_main!(kernels);
