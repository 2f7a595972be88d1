//! The scoring predictor on SmolLM2-135M-Instruct (fetched by `scripts/fetch_models.sh`): the
//! shared-prefix path equals scoring every question from a fresh cache.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_llm::{LoadOptions, ModelSource, load_model};
use indievalue_probe::{ScoreTarget, ScoringPredictor};
use indievalue_sampling::{DemoMode, Demonstration, Probe, ProbeTask};
use indievalue_testdata::mini_catalog_dir;
use indievalue_testdata::model_cache_dir;

fn task(catalog: &Catalog, probe_granularity: Granularity) -> ProbeTask {
    let questions = catalog.questions();
    let demonstrations = questions[..24]
        .iter()
        .enumerate()
        .map(|(i, q)| Demonstration {
            question: q.id().as_str().to_owned(),
            statement: (i % q.statements(Granularity::Refined).len()) as u8,
        })
        .collect();
    let probes = questions[30..36]
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let options = q.statements(probe_granularity).len() as u8;
            Probe {
                question: q.id().as_str().to_owned(),
                options,
                gold: (i as u8) % options,
            }
        })
        .collect();
    ProbeTask {
        person: 42,
        setup: 1,
        probe_granularity,
        demo_granularity: Granularity::Refined,
        demo_mode: DemoMode::Fixed(24),
        demographics: Vec::new(),
        demonstrations,
        probes,
    }
}

#[test]
fn shared_prefix_scores_equal_fresh_cache_scores() {
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh (CI does)",
        path.display()
    );
    let model = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).unwrap();
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let mut predictor = ScoringPredictor::new(&model, &catalog);
    predictor.batch_rows = 4;
    for (granularity, target) in [
        (Granularity::Polar, ScoreTarget::Label),
        (Granularity::Refined, ScoreTarget::Label),
        // Whole answers: several tokens per option, one row per option.
        (Granularity::Polar, ScoreTarget::Answer),
        // Cloze: the options' statements after the known statements, no option list.
        (Granularity::Refined, ScoreTarget::Statement),
    ] {
        predictor.target = target;
        let t = task(&catalog, granularity);
        let shared = predictor.score(&t).unwrap();
        let fresh = predictor.score_fresh(&t).unwrap();
        assert!(shared.prefix_tokens > 300, "{}", shared.prefix_tokens);
        assert_eq!(shared.predictions.len(), 6);
        let mut worst = 0f64;
        for (a, b) in shared.predictions.iter().zip(&fresh.predictions) {
            let (pa, pb) = (
                a.probabilities.as_ref().unwrap(),
                b.probabilities.as_ref().unwrap(),
            );
            assert_eq!(
                pa.len(),
                usize::from(
                    t.probes
                        .iter()
                        .find(|p| p.question == a.question)
                        .unwrap()
                        .options
                )
            );
            let sum: f32 = pa.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
            for (x, y) in pa.iter().zip(pb) {
                worst = worst.max((f64::from(*x).ln() - f64::from(*y).ln()).abs());
            }
            assert_eq!(a.predicted, b.predicted);
            let best = pa.iter().cloned().fold(f32::MIN, f32::max);
            assert_eq!(pa[usize::from(a.predicted.unwrap())], best);
            assert_eq!(a.gold, b.gold);
        }
        eprintln!("{granularity:?} {target:?}: max |Δ log p| {worst:.2e}");
        assert!(
            worst < 1e-4,
            "{granularity:?}: shared prefix vs fresh: {worst}"
        );
    }
}
