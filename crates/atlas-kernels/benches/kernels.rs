//! Criterion benches of the kernels' hot paths (`cargo bench -p atlas-kernels`).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    replay_benches(c);
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
