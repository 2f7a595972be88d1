//! End-to-end conversion of a 93,279-person synthetic survey (all 253 value questions and 31
//! demographic items, both granularities and the demographics written to Parquet), and, apart, the
//! generator that writes the CSV.
//!
//! ```text
//! INDIEVALUE_META_DIR=../shared/indievalue-meta cargo bench --bench convert
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use indievalue::catalog::{Catalog, meta_dir_from_env};
use indievalue::convert::{ConvertOptions, convert_file, write_dataset};
use indievalue::synth::{SynthConfig, SyntheticModel};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PEOPLE: usize = 93_279;

fn bench(c: &mut Criterion) {
    let meta = meta_dir_from_env().expect("set INDIEVALUE_META_DIR to the authors' metadata");
    let catalog = Catalog::load(meta).expect("catalog");
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("wvs.csv");
    let config = SynthConfig {
        people: PEOPLE,
        seed: 1,
        ..Default::default()
    };
    let model = SyntheticModel::new(&catalog, &config).expect("model");
    let summary = model.write_csv(&catalog, &csv).expect("csv");
    eprintln!(
        "synthetic survey: {} rows, {:.1} MB",
        summary.rows,
        summary.bytes as f64 / 1e6
    );

    let mut group = c.benchmark_group("convert");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("convert_93279_people_end_to_end", |b| {
        b.iter(|| {
            let conversion =
                convert_file(&catalog, &csv, &ConvertOptions::default()).expect("convert");
            write_dataset(&catalog, &conversion, dir.path().join("data")).expect("write");
            conversion.report.people
        })
    });
    group.bench_function("synth_93279_people_csv", |b| {
        b.iter(|| {
            model
                .write_csv(&catalog, dir.path().join("again.csv"))
                .expect("csv")
                .rows
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
