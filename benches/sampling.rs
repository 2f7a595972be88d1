//! Sampling on a 93,279-person synthetic dataset: select the evaluation set, build the 3 x 800
//! probe tasks (200 polar demonstrations) and a 253 x 1600 training set
//! (`[probe=p+r, demo=mixed+200, N=1600]`), in memory.
//!
//! ```text
//! INDIEVALUE_META_DIR=../shared/indievalue-meta cargo bench --bench sampling
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use indievalue::catalog::{Catalog, Granularity, Respondents, meta_dir_from_env};
use indievalue::sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, TaskSpec, TrainingRecipe,
    build_probe_tasks, build_training_set, select_evaluation_set,
};
use indievalue::synth::{SynthConfig, SyntheticModel};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn synthetic(catalog: &Catalog, people: usize) -> Respondents {
    let config = SynthConfig {
        people,
        seed: 1,
        ..Default::default()
    };
    let model = SyntheticModel::new(catalog, &config).expect("model");
    model.respondents(catalog).expect("respondents")
}

fn bench(c: &mut Criterion) {
    let meta = meta_dir_from_env().expect("set INDIEVALUE_META_DIR to the authors' metadata");
    let catalog = Catalog::load(meta).expect("catalog");
    let people = synthetic(&catalog, 93_279);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria::default();
    let spec = DemoSpec {
        mode: DemoMode::Fixed(200),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let recipe = TrainingRecipe::parse("p+r", "mixed+200", 1600).expect("recipe");

    let mut group = c.benchmark_group("sampling");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("eval_set_tasks_and_training_set_93279_people", |b| {
        b.iter(|| {
            let answers = AnswerMatrix::new(&people);
            let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 1)
                .expect("eval");
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
            let pool = eval.training_rows(people.len());
            let training = build_training_set(&catalog, &people, &answers, &pool, &recipe, 1)
                .expect("training");
            (tasks.len(), training.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
