//! The full resemble sweep k = 1..35 for 3 setups x 800 evaluation people (200 polar
//! demonstrations) against a 92,479-person training pool, plus packing the pool and the global
//! majority.
//!
//! ```text
//! INDIEVALUE_META_DIR=../shared/indievalue-meta cargo bench --bench baselines
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use indievalue::baselines::{GlobalMajority, ResembleIndex, resemble_sweep};
use indievalue::catalog::{Catalog, Granularity, meta_dir_from_env};
use indievalue::sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, TaskSpec, build_probe_tasks,
    select_evaluation_set,
};
use indievalue::synth::{SynthConfig, SyntheticModel};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let meta = meta_dir_from_env().expect("set INDIEVALUE_META_DIR to the authors' metadata");
    let catalog = Catalog::load(meta).expect("catalog");
    let n = 93_279;
    let model = SyntheticModel::new(
        &catalog,
        &SynthConfig {
            people: n,
            seed: 1,
            ..Default::default()
        },
    )
    .expect("model");
    let people = model.respondents(&catalog).expect("respondents");
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let eval = select_evaluation_set(
        &catalog,
        &people,
        &answers,
        &setups,
        &EvalCriteria::default(),
        1,
    )
    .expect("eval");
    let pool = eval.training_rows(people.len());
    assert_eq!(pool.len(), n - 800);
    let spec = DemoSpec {
        mode: DemoMode::Fixed(200),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let tasks = build_probe_tasks(
        &catalog,
        &people,
        &answers,
        &eval.rows,
        &TaskSpec {
            setups: &setups,
            demos: spec,
            probe_granularity: Granularity::Polar,
            seed: 1,
        },
    );

    let mut group = c.benchmark_group("baselines");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("global_index_and_sweep_k1_to_35_3x800_vs_92479", |b| {
        b.iter(|| {
            let global = GlobalMajority::fit(&catalog, &answers, &pool);
            let index =
                ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Polar)
                    .expect("index");
            let sweep = resemble_sweep(&catalog, &answers, &index, &global, &tasks, 35, &[])
                .expect("sweep");
            sweep.points[23].average
        })
    });
    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    let index = ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Polar)
        .expect("index");
    group.bench_function("sweep_only_k1_to_35_3x800_vs_92479", |b| {
        b.iter(|| {
            resemble_sweep(&catalog, &answers, &index, &global, &tasks, 35, &[])
                .expect("sweep")
                .points[0]
                .average
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
