//! The learned reasoners: no evaluation person influences a model, the same seed gives the same
//! predictions, and on a synthetic WVS-shaped survey the recommended reasoner beats top-k.

use indievalue_baselines::{
    BaselineResults, LearnedReasoner, LearnedReasoners, LearnedSettings, SuiteOptions,
    run_baseline_suite,
};
use indievalue_catalog::{Catalog, Granularity, Respondents, meta_dir_from_env};
use indievalue_metrics::{AccuracyReport, Bootstrap, Prediction};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, ProbeTask, TaskSpec,
    build_probe_tasks, select_evaluation_set,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use std::collections::BTreeSet;

fn mini() -> Catalog {
    Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap()
}

fn synthetic(catalog: &Catalog, n: usize, seed: u64) -> Respondents {
    let config = SynthConfig {
        people: n,
        seed,
        ..Default::default()
    };
    SyntheticModel::new(catalog, &config)
        .unwrap()
        .respondents(catalog)
        .unwrap()
}

fn tasks_of(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    rows: &[usize],
    demos: usize,
) -> Vec<ProbeTask> {
    let setups = ProbeSetup::of_survey(catalog);
    let spec = DemoSpec {
        mode: DemoMode::Fixed(demos),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let task_spec = TaskSpec {
        setups: &setups,
        demos: spec,
        probe_granularity: Granularity::Polar,
        seed: 3,
    };
    build_probe_tasks(catalog, people, answers, rows, &task_spec)
}

/// Small, quick settings for the mini catalog.
fn quick(seed: u64) -> LearnedSettings {
    LearnedSettings {
        lambdas_per_demonstration: vec![3.0, 0.3],
        betas: vec![0.3, 1.0],
        classes: vec![4, 8],
        temperatures: vec![0.5, 1.0],
        blend_steps: 2,
        validation_people: 300,
        min_training_rows: 3000,
        max_iterations: 30,
        final_iterations: 15,
        latent_iterations: 30,
        ..LearnedSettings::new(seed)
    }
}

/// Every run's predictions with the gold answers blanked: what the reasoners said.
fn said(results: &BaselineResults) -> Vec<(String, Vec<Prediction>)> {
    results
        .runs
        .iter()
        .map(|run| {
            let said = run
                .predictions
                .iter()
                .map(|p| Prediction {
                    gold: 0,
                    ..p.clone()
                })
                .collect();
            (run.name.clone(), said)
        })
        .collect()
}

#[test]
fn changing_an_evaluation_persons_unshown_answers_changes_no_prediction() {
    let catalog = mini();
    let people = synthetic(&catalog, 1500, 11);
    let answers = AnswerMatrix::new(&people);
    let eval: Vec<usize> = (0..people.len()).filter(|r| r % 10 == 0).collect();
    let pool: Vec<usize> = (0..people.len()).filter(|r| r % 10 != 0).collect();
    let tasks = tasks_of(&catalog, &people, &answers, &eval, 20);
    let options = SuiteOptions {
        max_k: 10,
        report_k: 5,
        learned: Some(quick(5)),
    };
    let before = run_baseline_suite(&catalog, &people, &answers, &pool, &tasks, &options).unwrap();

    // Every evaluation person answers every question they were not shown (probes included)
    // differently: the next valid code, or no answer where they had none.
    let shown: BTreeSet<(i64, String)> = tasks
        .iter()
        .flat_map(|t| {
            t.demonstrations
                .iter()
                .map(move |d| (t.person, d.question.clone()))
        })
        .collect();
    let mut raw: Vec<Vec<i32>> = people.questions().iter().map(|q| q.raw.clone()).collect();
    let mut changed = 0;
    for &row in &eval {
        let person = people.ids()[row];
        for (q, question) in catalog.questions().iter().enumerate() {
            if shown.contains(&(person, question.id().to_string())) {
                continue;
            }
            let codes: Vec<i32> = question.valid_codes().collect();
            let old = raw[q][row];
            let new = match codes.iter().position(|&c| c == old) {
                Some(i) => codes[(i + 1) % codes.len()],
                None => codes[0],
            };
            if new != old {
                raw[q][row] = new;
                changed += 1;
            }
        }
    }
    assert!(changed > 1000, "only {changed} answers changed");
    let demographics: Vec<Vec<i32>> = people
        .demographics()
        .iter()
        .map(|d| d.raw.clone())
        .collect();
    let altered =
        Respondents::from_raw(&catalog, people.ids().to_vec(), raw, demographics).unwrap();
    let altered_answers = AnswerMatrix::new(&altered);
    assert_ne!(altered_answers, answers);
    let after = run_baseline_suite(
        &catalog,
        &altered,
        &altered_answers,
        &pool,
        &tasks,
        &options,
    )
    .unwrap();
    assert_eq!(before.runs.len(), 7);
    assert_eq!(said(&before), said(&after));
    assert_eq!(before.selection, after.selection);
}

#[test]
fn same_seed_same_predictions_other_seed_other_folds() {
    let catalog = mini();
    let people = synthetic(&catalog, 1200, 12);
    let answers = AnswerMatrix::new(&people);
    let eval: Vec<usize> = (0..people.len()).filter(|r| r % 8 == 0).collect();
    let pool: Vec<usize> = (0..people.len()).filter(|r| r % 8 != 0).collect();
    let tasks = tasks_of(&catalog, &people, &answers, &eval, 20);
    let fit = |seed| {
        LearnedReasoners::fit(&catalog, &people, &answers, &pool, &tasks, &quick(seed)).unwrap()
    };
    let (a, b, c) = (fit(1), fit(1), fit(2));
    assert_eq!(a.selection(), b.selection());
    assert_eq!(
        a.predict(&catalog, &tasks).unwrap(),
        b.predict(&catalog, &tasks).unwrap()
    );
    // Another seed draws other folds and demonstrations: other cross-validated figures.
    assert_ne!(
        a.selection().setups[0].lambda_accuracy,
        c.selection().setups[0].lambda_accuracy
    );
}

#[test]
fn on_a_synthetic_wvs_shaped_survey_the_recommended_reasoner_beats_top_24_by_a_quarter_point() {
    let meta =
        meta_dir_from_env().expect("INDIEVALUE_META_DIR must point at the authors' metadata");
    let catalog = Catalog::load(meta).unwrap();
    let people = synthetic(&catalog, 10_000, 21);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria {
        people: 200,
        ..Default::default()
    };
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 1).unwrap();
    let pool = eval.training_rows(people.len());
    let tasks = tasks_of(&catalog, &people, &answers, &eval.rows, 200);
    let options = SuiteOptions {
        max_k: 24,
        report_k: 24,
        learned: Some(LearnedSettings {
            lambdas_per_demonstration: vec![3.0],
            betas: vec![0.1, 0.2, 0.3],
            classes: vec![16, 32],
            temperatures: vec![0.25, 1.0],
            validation_people: 1000,
            max_iterations: 30,
            final_iterations: 20,
            ..LearnedSettings::new(1)
        }),
    };
    let results = run_baseline_suite(&catalog, &people, &answers, &pool, &tasks, &options).unwrap();
    let accuracy = |name: &str| {
        let run = results.runs.iter().find(|r| r.name == name).unwrap();
        AccuracyReport::compute(&catalog, &run.predictions, &Bootstrap::default())
            .unwrap()
            .setup_average()
    };
    let recommended = results.recommended().unwrap();
    assert_ne!(recommended, "top24");
    let selection = results.selection.as_ref().unwrap();
    assert!(
        selection.accuracy[&selection.recommended] > selection.accuracy[&LearnedReasoner::TopK]
    );
    let (top_k, best) = (accuracy("top24"), accuracy(&recommended));
    println!("{recommended} {best:.2} vs top-24 {top_k:.2}");
    assert!(
        best > top_k + 0.25,
        "{recommended} {best:.2} vs top-24 {top_k:.2}"
    );
}
