//! Criterion benches of the kernels' hot paths (`cargo bench -p atlas-kernels`).
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(_c: &mut Criterion) {}

criterion_group!(kernels, benches);
criterion_main!(kernels);
