use super::*;

fn cfg() -> AggregatorConfig {
    AggregatorConfig {
        half_life: 4.0,
        last_n: 3,
        window_seconds: 10.0,
        window_buckets: 5,
        relative_accuracy: 0.01,
        quantiles: vec![0.0, 0.5, 1.0],
    }
}

fn events(n: usize, seed: u64) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let mut r = rng::seeded(seed);
    let keys = (0..n).map(|_| rng::index(&mut r, 7) as i64).collect();
    let values = (0..n).map(|_| rng::unit(&mut r) * 2.0 - 0.5).collect();
    let ts = (0..n).map(|i| 1000.0 + i as f64 * 0.37).collect();
    (keys, values, ts)
}

fn fed(keys: &[i64], values: &[f64], ts: &[f64]) -> RewardAggregator<i64> {
    let mut agg = RewardAggregator::new(cfg()).unwrap();
    agg.add_batch(keys.iter(), values, Some(ts), 0.0).unwrap();
    agg
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * (1.0 + y.abs()))
}

fn assert_same(a: &Snapshot<i64>, b: &Snapshot<i64>) {
    assert_eq!(a.keys, b.keys);
    assert_eq!(a.count, b.count);
    assert_eq!(a.window_count, b.window_count);
    for (x, y) in [
        (&a.mean, &b.mean),
        (&a.var, &b.var),
        (&a.min, &b.min),
        (&a.max, &b.max),
        (&a.ema, &b.ema),
        (&a.last_n_mean, &b.last_n_mean),
        (&a.window_mean, &b.window_mean),
    ] {
        assert!(close(x, y), "{x:?} vs {y:?}");
    }
    assert_eq!(a.quantiles, b.quantiles);
}

#[test]
fn statistics_of_one_key() {
    let mut agg = RewardAggregator::<StrKey>::new(cfg()).unwrap();
    for (i, v) in [1.0, 2.0, 3.0, 4.0, 10.0].into_iter().enumerate() {
        agg.add("a", v, 100.0 + i as f64 * 3.0).unwrap();
    }
    let s = agg.snapshot(None).unwrap();
    assert_eq!(s.keys, vec![StrKey::new("a")]);
    assert_eq!(s.count, vec![5]);
    assert!((s.mean[0] - 4.0).abs() < 1e-12);
    assert!((s.var[0] - 12.5).abs() < 1e-12);
    assert_eq!((s.min[0], s.max[0]), (1.0, 10.0));
    assert!((s.last_n_mean[0] - 17.0 / 3.0).abs() < 1e-12);
    // Granularity 2 s, window ends at t=112 (bucket 56) and covers buckets 52..=56: t in [104, 114).
    assert_eq!(s.window_count[0], 3);
    assert!((s.window_mean[0] - 17.0 / 3.0).abs() < 1e-12);
    assert_eq!(s.quantiles[0][0], 1.0);
    assert_eq!(s.quantiles[2][0], 10.0);
    assert!((s.quantiles[1][0] - 3.0).abs() <= 0.03 + 1e-12);
    let d = (-1.0f64 / 4.0).exp2();
    let w: Vec<f64> = (0..5).map(|k| d.powi(4 - k)).collect();
    let ema = [1.0, 2.0, 3.0, 4.0, 10.0]
        .iter()
        .zip(&w)
        .map(|(x, w)| x * w)
        .sum::<f64>()
        / w.iter().sum::<f64>();
    assert!((s.ema[0] - ema).abs() < 1e-12);
}

#[test]
fn merge_equals_single_stream() {
    let (k, v, t) = events(2000, 11);
    let whole = fed(&k, &v, &t).snapshot(None).unwrap();
    for cut in [0, 1, 999, 2000] {
        let mut a = fed(&k[..cut], &v[..cut], &t[..cut]);
        a.merge(&fed(&k[cut..], &v[cut..], &t[cut..])).unwrap();
        assert_same(&a.snapshot(None).unwrap(), &whole);
        assert_eq!(a.total_count(), 2000);
    }
}

#[test]
fn set_statistics_merge_in_any_order() {
    let (k, v, t) = events(1000, 5);
    let mut b_then_a = fed(&k[500..], &v[500..], &t[500..]);
    b_then_a
        .merge(&fed(&k[..500], &v[..500], &t[..500]))
        .unwrap();
    let whole = fed(&k, &v, &t);
    let (x, y) = (
        b_then_a.snapshot(None).unwrap(),
        whole.snapshot(None).unwrap(),
    );
    assert_eq!(x.count, y.count);
    assert!(close(&x.var, &y.var) && close(&x.window_mean, &y.window_mean));
    for key in 0..7i64 {
        assert!(b_then_a.same_sketch(&whole, &key));
    }
}

#[test]
fn bad_values_reject_the_whole_batch() {
    let mut agg = RewardAggregator::<i64>::new(cfg()).unwrap();
    let err = agg
        .add_batch([1i64, 2, 3].iter(), &[0.5, f64::NAN, 1.0], None, 10.0)
        .unwrap_err();
    assert!(matches!(
        err,
        KernelError::InvalidArgument { name: "values", .. }
    ));
    let err = agg
        .add_batch([1i64].iter(), &[0.5], Some(&[f64::INFINITY]), 0.0)
        .unwrap_err();
    assert!(matches!(
        err,
        KernelError::InvalidArgument {
            name: "timestamps",
            ..
        }
    ));
    let err = agg
        .add_batch([1i64, 2].iter(), &[0.5], None, 0.0)
        .unwrap_err();
    assert!(matches!(
        err,
        KernelError::InvalidArgument { name: "values", .. }
    ));
    assert!(agg.is_empty());
    assert!(agg.add(&1, f64::NEG_INFINITY, 0.0).is_err());
    assert!(agg.quantile(&1, 1.5).is_err());
}

#[test]
fn bad_config_names_the_field() {
    let cases: [(&str, AggregatorConfig); 6] = [
        (
            "half_life",
            AggregatorConfig {
                half_life: 0.0,
                ..cfg()
            },
        ),
        ("last_n", AggregatorConfig { last_n: 0, ..cfg() }),
        (
            "window_seconds",
            AggregatorConfig {
                window_seconds: f64::NAN,
                ..cfg()
            },
        ),
        (
            "window_buckets",
            AggregatorConfig {
                window_buckets: 0,
                ..cfg()
            },
        ),
        (
            "relative_accuracy",
            AggregatorConfig {
                relative_accuracy: 1.0,
                ..cfg()
            },
        ),
        (
            "quantiles",
            AggregatorConfig {
                quantiles: vec![1.2],
                ..cfg()
            },
        ),
    ];
    for (name, c) in cases {
        match RewardAggregator::<i64>::new(c) {
            Err(KernelError::InvalidArgument { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn quantile_columns_have_short_unique_names() {
    assert_eq!(quantile_column_name(0.5), "p50");
    assert_eq!(quantile_column_name(0.999), "p99.9");
    assert_eq!(quantile_column_name(0.0), "p0");
    assert_eq!(quantile_column_name(1.0), "p100");
    let dup = AggregatorConfig {
        quantiles: vec![0.5, 0.9, 0.5],
        ..cfg()
    };
    assert!(matches!(
        dup.validate(),
        Err(KernelError::InvalidArgument {
            name: "quantiles",
            ..
        })
    ));
}

#[test]
fn merge_requires_same_config() {
    let mut a = RewardAggregator::<i64>::new(cfg()).unwrap();
    let b = RewardAggregator::<i64>::new(AggregatorConfig { last_n: 9, ..cfg() }).unwrap();
    assert!(a.merge(&b).is_err());
}

#[test]
fn save_and_load_round_trip() {
    let (k, v, t) = events(500, 2);
    let agg = fed(&k, &v, &t);
    let back = RewardAggregator::<i64>::load(&agg.save().unwrap()).unwrap();
    assert_same(&back.snapshot(None).unwrap(), &agg.snapshot(None).unwrap());
    // The index is rebuilt: adding to a known key must not create a new row.
    let mut back = back;
    back.add(&3, 1.0, 2000.0).unwrap();
    assert_eq!(back.len(), agg.len());
    assert!(matches!(
        RewardAggregator::<i64>::load(b"nope"),
        Err(KernelError::State(_))
    ));
}

#[test]
fn grouped_batch_equals_one_by_one() {
    let (k, v, t) = events(3000, 9);
    let batched = fed(&k, &v, &t);
    let mut single = RewardAggregator::<i64>::new(cfg()).unwrap();
    for i in 0..k.len() {
        single.add(&k[i], v[i], t[i]).unwrap();
    }
    let (a, b) = (
        batched.snapshot(None).unwrap(),
        single.snapshot(None).unwrap(),
    );
    assert_eq!(a.mean, b.mean);
    assert_eq!(a.ema, b.ema);
    assert_eq!(a.last_n_mean, b.last_n_mean);
    assert_eq!(a.quantiles, b.quantiles);
}
