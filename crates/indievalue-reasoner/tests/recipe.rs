//! The reasoner's stages: a run directory refuses another run's settings; a fine-tuning killed
//! mid-way and rerun ends with the uninterrupted run's adapter, byte for byte; an evaluation
//! resumed gives the same predictions; Table 4's row is the reports' figures.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_llm::{LoadOptions, ModelSource, load_model};
use indievalue_metrics::{Bootstrap, Prediction};
use indievalue_probe::{ProbeMode, PromptBuilder, ScoreTarget};
use indievalue_reasoner::{
    Error, EvaluationTasks, ModelEvaluation, ReasonerRecipe, ReasonerRun, TRAINED_FILE, table4,
    table19,
};
use indievalue_sampling::{
    AnswerMatrix, ConsistencySpec, DemoMode, DemoSpec, ProbeSetup, ProbeTask, SettlingStatement,
    TaskSpec, build_probe_tasks, consistency_tasks,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use std::path::Path;

fn gguf() -> std::path::PathBuf {
    let path = indievalue_testdata::smollm2_gguf();
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh",
        path.display()
    );
    path
}

#[test]
fn a_run_directory_refuses_another_runs_settings() {
    let dir = tempfile::tempdir().unwrap();
    let a = serde_json::json!({ "recipe": 1 });
    ReasonerRun::open(dir.path(), &a).unwrap();
    ReasonerRun::open(dir.path(), &a).unwrap();
    let err = ReasonerRun::open(dir.path(), &serde_json::json!({ "recipe": 2 })).unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");
}

/// A few short consistency examples (3 probes each, no fillers).
fn small_tasks(catalog: &Catalog, people: usize, seed: u64) -> Vec<ProbeTask> {
    let setups = ProbeSetup::of_survey(catalog);
    let spec = ConsistencySpec {
        settling: SettlingStatement::Same(Granularity::Polar),
        fillers: 0,
        seed,
    };
    let mut tasks = consistency_tasks(catalog, &setups[..1], people, &spec).unwrap();
    for t in &mut tasks {
        t.probes.truncate(3);
        let keep: Vec<String> = t.probes.iter().map(|p| p.question.clone()).collect();
        t.demonstrations.retain(|d| keep.contains(&d.question));
    }
    tasks
}

fn recipe() -> ReasonerRecipe {
    let mut r = ReasonerRecipe::lora_settings(None);
    r.train.max_steps = Some(3);
    r.train.grad_accum = 2;
    r.train.save_every = Some(1);
    r.train.gradient_checkpointing = false;
    r.train.optimizer.lr = 1e-3;
    r
}

/// Runs the training stage in `dir`; with `kill_after`, the run dies right after that step.
fn train(dir: &Path, catalog: &Catalog, kill_after: Option<u64>) -> bool {
    let run = ReasonerRun::open(dir, &serde_json::json!({ "test": "resume" })).unwrap();
    run.write_task_training_set(
        &PromptBuilder::new(catalog),
        &small_tasks(catalog, 2, 5),
        &serde_json::json!({}),
    )
    .unwrap();
    let source = ModelSource::Gguf(gguf());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run.fine_tune(
            "SmolLM2",
            &source,
            &LoadOptions::default(),
            &recipe(),
            &mut |log, _| {
                if Some(log.step) == kill_after {
                    panic!("killed after step {}", log.step);
                }
            },
        )
        .unwrap()
    }));
    result.is_ok()
}

#[test]
fn a_killed_fine_tuning_resumes_to_the_uninterrupted_adapter_and_evaluation_resumes() {
    let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(train(a.path(), &catalog, None));
    assert!(!train(b.path(), &catalog, Some(2)), "the run was killed");
    assert!(!b.path().join(TRAINED_FILE).exists());
    assert!(train(b.path(), &catalog, None), "the rerun finishes");
    let weights = |d: &Path| std::fs::read(d.join("model/adapter_model.safetensors")).unwrap();
    assert_eq!(weights(a.path()), weights(b.path()));
    let trained = ReasonerRun::open(a.path(), &serde_json::json!({ "test": "resume" }))
        .unwrap()
        .trained()
        .unwrap()
        .unwrap();
    assert_eq!((trained.steps, trained.examples), (3, 6));

    // Evaluation: one task at a time, the second call resumes; same predictions as in one go.
    let model = load_model(&ModelSource::Gguf(gguf()), &LoadOptions::default()).unwrap();
    let tasks = small_tasks(&catalog, 4, 9)[2..].to_vec();
    let mode = ProbeMode::Score(ScoreTarget::Label);
    let eval = |run: &ReasonerRun, tasks: &[ProbeTask]| -> Vec<Prediction> {
        let p = serde_json::json!({});
        run.evaluate(
            &model,
            &catalog,
            "base",
            tasks,
            mode.clone(),
            0,
            p,
            &mut |_| {},
        )
        .unwrap()
    };
    let one_go = eval(
        &ReasonerRun::open(a.path(), &serde_json::json!({ "test": "resume" })).unwrap(),
        &tasks,
    );
    let run_b = ReasonerRun::open(b.path(), &serde_json::json!({ "test": "resume" })).unwrap();
    let first = eval(&run_b, &tasks[..1]);
    assert_eq!(first.len(), tasks[0].probes.len());
    let resumed = eval(&run_b, &tasks);
    assert_eq!(one_go, resumed);
    assert_eq!(one_go.len(), 6);
}

#[test]
fn table4_and_table19_report_the_evaluations() {
    let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    let config = SynthConfig {
        people: 400,
        seed: 4,
        ..Default::default()
    };
    let people = SyntheticModel::new(&catalog, &config)
        .unwrap()
        .respondents(&catalog)
        .unwrap();
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let demos = DemoSpec {
        mode: DemoMode::Fixed(5),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let spec = TaskSpec {
        setups: &setups,
        demos,
        probe_granularity: Granularity::Polar,
        seed: 1,
    };
    let rows: Vec<usize> = (0..40).collect();
    let tasks = build_probe_tasks(&catalog, &people, &answers, &rows, &spec);
    let tasks = EvaluationTasks::both(&catalog, &people, &answers, tasks).unwrap();
    assert_eq!(tasks.polar.len(), tasks.refined.len());
    // Two "models": always the first option, and the gold answer.
    let predict = |tasks: &[ProbeTask], gold: bool| -> Vec<Prediction> {
        tasks
            .iter()
            .flat_map(|t| {
                t.probes.iter().map(move |p| {
                    let guess = if gold { p.gold } else { 0 };
                    Prediction::new(
                        t.person,
                        t.setup,
                        &p.question,
                        t.probe_granularity,
                        Some(guess),
                        p.gold,
                        None,
                    )
                })
            })
            .collect()
    };
    let b = Bootstrap::default();
    let first = ModelEvaluation::compute(
        &catalog,
        &people,
        "first",
        &predict(&tasks.polar, false),
        &predict(&tasks.refined, false),
        &b,
    )
    .unwrap();
    let oracle = ModelEvaluation::compute(
        &catalog,
        &people,
        "oracle",
        &predict(&tasks.polar, true),
        &predict(&tasks.refined, true),
        &b,
    )
    .unwrap();
    assert_eq!(oracle.all_average(), 100.0);
    let expected =
        (first.polar.report.setup_average() + first.refined.report.setup_average()) / 2.0;
    assert_eq!(first.all_average(), expected);
    assert!(expected < 100.0);
    let t = table4(&[first.clone(), oracle.clone()], setups.len());
    let md = t.to_markdown();
    assert!(
        md.contains("| oracle | 100.00 | 100.00 | 100.00 | 100.00 |"),
        "{md}"
    );
    assert!(md.contains(&format!("{expected:.2} |")), "{md}");
    let t19 = table19(&[first, oracle]).to_markdown();
    // The oracle is right for everyone: no spread between groups in any dimension.
    assert!(
        t19.lines().filter(|l| l.ends_with("| 0.00 |")).count() >= 10,
        "{t19}"
    );
}
