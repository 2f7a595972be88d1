//! The consistency sanity set (`indievalue_sampling::consistency_tasks`): tasks whose known
//! statements settle every probe. Here the paper's example: each polar probe's own question is
//! among the demonstrations in refined form ("I strongly agree that X" settles "I agree that X"
//! against "I disagree that X"), with 40 filler statements of other questions. A model that
//! reads the known statements is well above chance whoever the person is.
//!
//! Needs the authors' metadata (`INDIEVALUE_META_DIR`, as `.ci/run` sets) and the SmolLM2 GGUF
//! (`scripts/fetch_models.sh`).

use indievalue_catalog::{Catalog, Granularity, meta_dir_from_env};
use indievalue_llm::{LoadOptions, ModelSource, load_model};
use indievalue_probe::{ScoreTarget, ScoringPredictor};
use indievalue_sampling::{ConsistencySpec, ProbeSetup, SettlingStatement, consistency_tasks};
use indievalue_testdata::model_cache_dir;

#[test]
fn smollm2_statement_scoring_is_well_above_chance_on_the_consistency_set() {
    let meta = meta_dir_from_env()
        .expect("INDIEVALUE_META_DIR must point at the authors' metadata (.ci/run sets it)");
    let catalog = Catalog::load(meta).unwrap();
    let spec = ConsistencySpec {
        settling: SettlingStatement::RefinedForPolar,
        fillers: 40,
        seed: 7,
    };
    let tasks = consistency_tasks(&catalog, &ProbeSetup::of_survey(&catalog), 1, &spec).unwrap();
    assert_eq!(tasks.len(), 3);
    // How each probe is settled is tested in indievalue-sampling (`consistency.rs`); here the
    // shape of the set on the real catalog.
    for task in &tasks {
        assert_eq!(task.probes.len(), 39);
        assert_eq!(task.demonstrations.len(), 79);
        assert_eq!(task.probe_granularity, Granularity::Polar);
        assert_eq!(task.demo_granularity, Granularity::Refined);
    }
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh (CI does)",
        path.display()
    );
    let model = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).unwrap();
    let mut scorer = ScoringPredictor::new(&model, &catalog);
    scorer.target = ScoreTarget::Statement;
    // Correct answers, and their mean and variance under guessing uniformly per probe.
    let (mut right, mut total, mut mean, mut variance) = (0usize, 0usize, 0f64, 0f64);
    for task in &tasks {
        for p in scorer.score(task).unwrap().predictions {
            let probs = p.probabilities.as_ref().unwrap();
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            right += usize::from(p.correct());
            total += 1;
            let chance = 1.0 / probs.len() as f64;
            mean += chance;
            variance += chance * (1.0 - chance);
        }
    }
    let sigmas = (right as f64 - mean) / variance.sqrt();
    eprintln!(
        "consistency set: SmolLM2-135M statement scoring {right}/{total} = {:.1} %, chance {:.1} %, {sigmas:.1} σ above",
        100.0 * right as f64 / total as f64,
        100.0 * mean / total as f64,
    );
    // Measured: 80/117 = 68.4 % against 45.4 % (5.1 σ). Well above chance: at least 3 σ.
    assert!(
        sigmas >= 3.0,
        "{right}/{total} correct is only {sigmas:.1} σ above chance ({mean:.1} expected)"
    );
}
