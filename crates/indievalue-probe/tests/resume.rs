//! A probing run interrupted (after some tasks, and in the middle of writing one) and rerun
//! gives the same predictions file as one uninterrupted run; generative runs record attempts.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_llm::{LoadOptions, LoadedModel, ModelSource, load_model};
use indievalue_metrics::PredictionsFile;
use indievalue_probe::{GeneratedTask, GenerationSettings, ProbeMode, ProbeRun, ScoreTarget};
use indievalue_sampling::{DemoMode, Demonstration, Probe, ProbeTask};
use indievalue_testdata::mini_catalog_dir;
use indievalue_testdata::model_cache_dir;
use std::io::Write;
use std::sync::OnceLock;

fn model() -> &'static LoadedModel {
    static MODEL: OnceLock<LoadedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            path.exists(),
            "{} is missing: run scripts/fetch_models.sh (CI does)",
            path.display()
        );
        load_model(&ModelSource::Gguf(path), &LoadOptions::default()).unwrap()
    })
}

fn tasks(catalog: &Catalog) -> Vec<ProbeTask> {
    let q = catalog.questions();
    (0..4)
        .map(|person| {
            let demonstrations = (0..10)
                .map(|i| {
                    let question = &q[(person * 7 + i) % 40];
                    Demonstration {
                        question: question.id().as_str().to_owned(),
                        statement: ((person + i) % question.statements(Granularity::Polar).len())
                            as u8,
                    }
                })
                .collect();
            let probes = q[50..53]
                .iter()
                .map(|question| Probe {
                    question: question.id().as_str().to_owned(),
                    options: question.statements(Granularity::Polar).len() as u8,
                    gold: (person % 2) as u8,
                })
                .collect();
            ProbeTask {
                person: 100 + person as i64,
                setup: 0,
                probe_granularity: Granularity::Polar,
                demo_granularity: Granularity::Polar,
                demo_mode: DemoMode::Fixed(10),
                demographics: Vec::new(),
                demonstrations,
                probes,
            }
        })
        .collect()
}

#[test]
fn interrupted_scoring_run_resumes_to_the_same_predictions() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let tasks = tasks(&catalog);
    let params = serde_json::json!({"model": "smollm2", "tasks": "test"});
    let whole = tempfile::tempdir().unwrap();
    let run = ProbeRun::new(
        model(),
        &catalog,
        ProbeMode::Score(ScoreTarget::Statement),
        whole.path(),
        1,
        params.clone(),
    );
    let outcome = run.run(&tasks, None, &mut |_| {}).unwrap();
    assert_eq!(outcome.ran, 4);
    let (_, want) = PredictionsFile::read(run.predictions_path(), &catalog).unwrap();
    assert_eq!(want.len(), 12);

    let cut = tempfile::tempdir().unwrap();
    let run = ProbeRun::new(
        model(),
        &catalog,
        ProbeMode::Score(ScoreTarget::Statement),
        cut.path(),
        1,
        params.clone(),
    );
    let mut seen = Vec::new();
    let first = run
        .run(&tasks, Some(2), &mut |t| seen.push(t.person))
        .unwrap();
    assert_eq!((first.ran, seen), (2, vec![100, 101]));
    // A kill while the third task was being written: one whole line of it and a torn one.
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(run.predictions_path())
            .unwrap();
        writeln!(f, "{}", serde_json::to_string(&want[6]).unwrap()).unwrap();
        write!(f, "{{\"person\":102,\"setup\":0,\"quest").unwrap();
    }
    let second = run.run(&tasks, None, &mut |_| {}).unwrap();
    assert_eq!(
        (second.resumed, second.ran, second.dropped_partial),
        (2, 2, 1)
    );
    let (_, got) = PredictionsFile::read(run.predictions_path(), &catalog).unwrap();
    assert_eq!(got, want);
    // Nothing left to do.
    let third = run.run(&tasks, None, &mut |_| {}).unwrap();
    assert_eq!((third.resumed, third.ran), (4, 0));
    // Other settings refuse to resume into the same directory.
    let other = ProbeRun::new(
        model(),
        &catalog,
        ProbeMode::Score(ScoreTarget::Statement),
        cut.path(),
        2,
        params,
    );
    assert!(other.run(&tasks, None, &mut |_| {}).is_err());
}

#[test]
fn generative_run_records_every_attempt_and_resumes() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let tasks = tasks(&catalog)[..2].to_vec();
    let settings = GenerationSettings {
        max_new_tokens: 12,
        retries: 1,
        retry_temperature: 0.7,
        seed: 3,
    };
    let dir = tempfile::tempdir().unwrap();
    let mode = ProbeMode::Generate(settings);
    let run = ProbeRun::new(
        model(),
        &catalog,
        mode.clone(),
        dir.path(),
        3,
        serde_json::json!({}),
    );
    run.run(&tasks, Some(1), &mut |_| {}).unwrap();
    let rerun = run.run(&tasks, None, &mut |_| {}).unwrap();
    assert_eq!((rerun.resumed, rerun.ran), (1, 1));
    let text = std::fs::read_to_string(run.record_path().unwrap()).unwrap();
    let generated: Vec<GeneratedTask> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(generated.len(), 2);
    for g in &generated {
        // 12 tokens cannot hold three groups: greedy, then one sampled retry, both recorded.
        assert_eq!(g.attempts.len(), 2);
        assert_eq!(g.attempts[0].temperature, 0.0);
        assert_eq!(g.attempts[1].temperature, 0.7);
        assert!(g.attempts.iter().all(|a| a.tokens <= 12));
    }
    let (_, predictions) = PredictionsFile::read(run.predictions_path(), &catalog).unwrap();
    assert_eq!(predictions.len(), 6);
    // The same run again from scratch gives the same attempts (seeded retries).
    let again = tempfile::tempdir().unwrap();
    let run2 = ProbeRun::new(
        model(),
        &catalog,
        mode,
        again.path(),
        3,
        serde_json::json!({}),
    );
    run2.run(&tasks, None, &mut |_| {}).unwrap();
    assert_eq!(
        std::fs::read_to_string(run2.record_path().unwrap()).unwrap(),
        text
    );
}

#[test]
fn the_limit_counts_the_tasks_of_the_whole_run() {
    // `--limit 3` killed after one task and rerun ends with three tasks, not four.
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let tasks = tasks(&catalog);
    assert!(tasks.len() >= 4);
    let dir = tempfile::tempdir().unwrap();
    let mode = ProbeMode::Score(ScoreTarget::Statement);
    let run = ProbeRun::new(
        model(),
        &catalog,
        mode,
        dir.path(),
        1,
        serde_json::json!({}),
    );
    let first = run.run(&tasks, Some(1), &mut |_| {}).unwrap();
    assert_eq!(first.ran, 1);
    let second = run.run(&tasks, Some(3), &mut |_| {}).unwrap();
    assert_eq!((second.resumed, second.ran), (1, 2));
    let third = run.run(&tasks, Some(3), &mut |_| {}).unwrap();
    assert_eq!((third.resumed, third.ran), (3, 0));
    let (_, got) = PredictionsFile::read(run.predictions_path(), &catalog).unwrap();
    let people: std::collections::BTreeSet<i64> = got.iter().map(|p| p.person).collect();
    assert_eq!(people.len(), 3);
}
