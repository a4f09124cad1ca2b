//! Criterion benches of the kernels' hot paths (`cargo bench -p atlas-kernels`).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    feedback_buffer::benches(c);
    reward_aggregator::benches(c);
    drift_detectors::benches(c);
    replay_benches(c);
}

/// FeedbackBuffer: a 100k-event columnar push, a single-event push, a 100k-event drain.
mod feedback_buffer {
    use std::hint::black_box;

    use atlas_kernels::buffer::{Event, EventBatch, FeedbackBuffer, Offsets, Policy};
    use criterion::{BatchSize, Criterion, Throughput};

    const N: usize = 100_000;

    struct Columns {
        interaction_id: Vec<u8>,
        kind: Vec<u8>,
        key: Vec<u64>,
        value: Vec<f64>,
        offsets: Vec<i64>,
        data: Vec<u8>,
    }

    fn columns() -> Columns {
        let payload = br#"{"signal": "copy", "n": 1}"#;
        Columns {
            interaction_id: (0..N * 16).map(|i| i as u8).collect(),
            kind: (0..N).map(|i| (i % 6) as u8).collect(),
            key: (0..N as u64).map(|i| i % 50).collect(),
            value: (0..N).map(|i| i as f64 / N as f64).collect(),
            offsets: (0..=N as i64).map(|i| i * payload.len() as i64).collect(),
            data: payload.repeat(N),
        }
    }

    fn batch(c: &Columns) -> EventBatch<'_> {
        EventBatch::new(&c.interaction_id, &c.kind)
            .and_then(|b| b.key(&c.key))
            .and_then(|b| b.value(&c.value))
            .and_then(|b| b.payload(Offsets::I64(&c.offsets), &c.data))
            .expect("valid batch")
    }

    pub fn benches(c: &mut Criterion) {
        let cols = columns();
        let mut group = c.benchmark_group("feedback_buffer");
        group.throughput(Throughput::Elements(N as u64));
        let buf = FeedbackBuffer::new(N, Policy::Reject).expect("buffer");
        group.bench_function("push_batch_100k", |b| {
            b.iter_batched(
                || drop(buf.drain(None)),
                |()| buf.try_push_batch(black_box(&batch(&cols))).expect("fits"),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("drain_100k", |b| {
            b.iter_batched(
                || drop(buf.try_push_batch(&batch(&cols))),
                |()| black_box(buf.drain(None)),
                BatchSize::PerIteration,
            )
        });
        group.throughput(Throughput::Elements(1));
        let ring = FeedbackBuffer::new(1 << 16, Policy::DropOldest).expect("buffer");
        let mut event = Event::new([7; 16], 1);
        event.value = 0.5;
        event.payload = br#"{"signal": "copy"}"#;
        group.bench_function("push_one", |b| b.iter(|| ring.try_push(black_box(&event))));
        group.finish();
    }
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

/// Prioritized replay at a million items: the sample and update of one 256 batch.
fn replay_benches(c: &mut Criterion) {
    use atlas_kernels::replay::{PrioritizedReplay, UniformReplay};
    use std::hint::black_box;

    const N: usize = 1_000_000;
    const BATCH: usize = 256;
    let mut per = PrioritizedReplay::new(N, 0.6, 0.4, 1e-6, 0).expect("valid parameters");
    let ids: Vec<u64> = (0..N as u64).collect();
    per.add(&ids);
    let mut rng = atlas_kernels::rng::seeded(1);
    let priorities: Vec<f64> = (0..N)
        .map(|_| atlas_kernels::rng::unit(&mut rng) + 0.01)
        .collect();
    per.update_priorities(&ids, &priorities)
        .expect("valid priorities");
    let drawn = per.sample(BATCH, None).expect("not empty");
    let new_priorities: Vec<f64> = (0..BATCH)
        .map(|_| atlas_kernels::rng::unit(&mut rng) + 0.01)
        .collect();

    c.bench_function("replay/prioritized_sample_256_of_1M", |b| {
        b.iter(|| black_box(per.sample(BATCH, None).expect("not empty")))
    });
    c.bench_function("replay/prioritized_update_256_of_1M", |b| {
        b.iter(|| {
            per.update_priorities(black_box(&drawn.slots), black_box(&new_priorities))
                .expect("valid")
        })
    });
    c.bench_function("replay/prioritized_sample_then_update_256_of_1M", |b| {
        b.iter(|| {
            let drawn = per.sample(BATCH, None).expect("not empty");
            per.update_priorities(&drawn.slots, &new_priorities)
                .expect("valid")
        })
    });
    let mut uniform = UniformReplay::new(N, 0).expect("valid capacity");
    uniform.add(&ids);
    c.bench_function("replay/uniform_sample_256_of_1M", |b| {
        b.iter(|| black_box(uniform.sample(BATCH).expect("not empty")))
    });
}

criterion_group!(kernels, benches);
criterion_main!(kernels);
