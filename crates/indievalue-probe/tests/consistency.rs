//! The consistency sanity set: tasks whose known statements settle every probe (each polar probe's
//! own statement is among the demonstrations in refined form, e.g. "I strongly agree that X" for
//! the probe "I agree that X" / "I disagree that X"). A model that reads the prompt should be well
//! above chance here; SmolLM2-135M in scoring mode is measured on it (figure printed).
//!
//! Needs the authors' metadata (`INDIEVALUE_META_DIR`, as `.ci/run` sets) and the SmolLM2 GGUF
//! (`scripts/fetch_models.sh`).

use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity, meta_dir_from_env};
use indievalue_llm::{LoadOptions, ModelSource, load_model, model_cache_dir};
use indievalue_probe::ScoringPredictor;
use indievalue_sampling::{DemoMode, Demonstration, Probe, ProbeSetup, ProbeTask};

/// One task per (person, setup): for every probe question a random refined statement, mapped
/// to the polar statement sharing its survey codes (the gold), plus 40 filler statements of
/// other questions; demonstrations shuffled.
fn sanity_tasks(catalog: &Catalog, people: usize) -> Vec<ProbeTask> {
    let setups = ProbeSetup::paper(catalog);
    let questions = catalog.questions();
    let mut tasks = Vec::new();
    for person in 0..people {
        for (s, setup) in setups.iter().enumerate() {
            let mut rng = Rng::derive(7, &[label("consistency"), person as u64, s as u64]);
            let mask = setup.mask(questions.len());
            let mut demonstrations = Vec::new();
            let mut probes = Vec::new();
            for (qi, q) in questions.iter().enumerate() {
                if !mask[qi] {
                    continue;
                }
                let refined = q.statements(Granularity::Refined);
                let polar = q.statements(Granularity::Polar);
                let r = rng.below(refined.len() as u64) as u16;
                let code = refined.code_map().codes_of(r).next().expect("a code");
                let gold = polar
                    .statement_for_code(i64::from(code))
                    .expect("polar statement");
                demonstrations.push(Demonstration {
                    question: q.id().as_str().to_owned(),
                    statement: r as u8,
                });
                probes.push(Probe {
                    question: q.id().as_str().to_owned(),
                    options: polar.len() as u8,
                    gold,
                });
            }
            let others: Vec<usize> = (0..questions.len()).filter(|&i| !mask[i]).collect();
            for _ in 0..40 {
                let q = &questions[others[rng.below(others.len() as u64) as usize]];
                let n = q.statements(Granularity::Refined).len() as u64;
                demonstrations.push(Demonstration {
                    question: q.id().as_str().to_owned(),
                    statement: rng.below(n) as u8,
                });
            }
            for i in (1..demonstrations.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                demonstrations.swap(i, j);
            }
            tasks.push(ProbeTask {
                person: person as i64 + 1,
                setup: s,
                probe_granularity: Granularity::Polar,
                demo_granularity: Granularity::Refined,
                demo_mode: DemoMode::Fixed(demonstrations.len()),
                demographics: Vec::new(),
                demonstrations,
                probes,
            });
        }
    }
    tasks
}

#[test]
fn consistency_set_is_well_formed_and_smollm2_is_measured_on_it() {
    let meta = meta_dir_from_env()
        .expect("INDIEVALUE_META_DIR must point at the authors' metadata (.ci/run sets it)");
    let catalog = Catalog::load(meta).unwrap();
    let tasks = sanity_tasks(&catalog, 1);
    assert_eq!(tasks.len(), 3);
    // Every probe is settled by exactly one demonstration: its own question in refined form,
    // whose survey codes fall in the gold polar statement.
    for task in &tasks {
        assert_eq!(task.probes.len(), 39);
        assert_eq!(task.demonstrations.len(), 79);
        for probe in &task.probes {
            let demos: Vec<_> = task
                .demonstrations
                .iter()
                .filter(|d| d.question == probe.question)
                .collect();
            assert_eq!(demos.len(), 1, "{}", probe.question);
            let q = catalog.question(&probe.question).unwrap();
            let code = q
                .statements(Granularity::Refined)
                .code_map()
                .codes_of(u16::from(demos[0].statement))
                .next()
                .unwrap();
            assert_eq!(
                q.statements(Granularity::Polar)
                    .statement_for_code(i64::from(code)),
                Some(probe.gold)
            );
        }
    }
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh (CI does)",
        path.display()
    );
    let model = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).unwrap();
    let scorer = ScoringPredictor::new(&model, &catalog);
    let (mut right, mut total, mut chance) = (0usize, 0usize, 0f64);
    // One task (setup 1) keeps the test quick; all three gave the figure quoted below.
    for task in &tasks[..1] {
        for p in scorer.score(task).unwrap().predictions {
            let probs = p.probabilities.as_ref().unwrap();
            assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            right += usize::from(p.correct());
            total += 1;
            chance += 1.0 / probs.len() as f64;
        }
    }
    // The figure is reported, not asserted: SmolLM2-135M sits near chance here (46.2 % vs
    // 45.4 % on all three tasks when measured; 50.4 % scoring whole answers), which says the 135M model does not
    // use the settling statement, not that the set or the scorer is wrong (both are checked
    // above and in scoring.rs).
    eprintln!(
        "consistency set: SmolLM2-135M scoring (labels) {:.1} % on {total} probes, chance {:.1} %",
        100.0 * right as f64 / total as f64,
        100.0 * chance / total as f64
    );
}
