//! Baselines: the paper's random numbers, hand-worked cases, a brute-force reference for the
//! sweep, and the ordering global < top-1 < top-24 on a synthetic survey.

use indievalue_baselines::{
    GlobalMajority, ResembleIndex, random_accuracy, resemble_sweep, resemble_top1,
};
use indievalue_catalog::{Catalog, Granularity, Respondents, meta_dir_from_env};
use indievalue_metrics::{AccuracyReport, Bootstrap, PREDICTIONS_FORMAT, PredictionsFile};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, Demonstration, EvalCriteria, Probe, ProbeSetup, ProbeTask,
    TaskFileHeader, TaskSpec, build_probe_tasks, select_evaluation_set,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::fixtures_dir;

fn shared() -> Catalog {
    let meta =
        meta_dir_from_env().expect("INDIEVALUE_META_DIR must point at the authors' metadata");
    Catalog::load(meta).unwrap()
}

#[test]
fn random_baseline_matches_table_4_exactly() {
    let catalog = shared();
    let setups = ProbeSetup::of_survey(&catalog);
    let r = random_accuracy(&catalog, &setups, Granularity::Polar);
    let shown: Vec<String> = r.iter().map(|v| format!("{v:.2}")).collect();
    assert_eq!(shown, vec!["46.37", "45.51", "44.23"]);
}

/// The tiny catalog's pool of four training people, by hand (raw codes of T1, T2, T3):
/// 11: (2, 7, 0) polar (0, 1, 0)      12: (1, -1, 2) polar (0, -, 1)
/// 13: (3, 8, 1) polar (1, 1, 1)      14: (1, 9, -2) polar (0, 1, -)
fn tiny_pool() -> (Catalog, Respondents) {
    let catalog = Catalog::load(fixtures_dir().join("tiny-meta")).unwrap();
    let people = Respondents::from_raw(
        &catalog,
        vec![11, 12, 13, 14],
        vec![vec![2, 1, 3, 1], vec![7, -1, 8, 9], vec![0, 2, 1, -2]],
        vec![vec![36; 4], vec![36; 4], vec![1; 4]],
    )
    .unwrap();
    (catalog, people)
}

fn tiny_task(probes: Vec<Probe>) -> ProbeTask {
    // Demonstrations T1 = 0 and T2 = 1 (polar).
    ProbeTask {
        person: 99,
        setup: 0,
        probe_granularity: Granularity::Polar,
        demo_granularity: Granularity::Polar,
        demo_mode: DemoMode::Fixed(2),
        demographics: vec![],
        demonstrations: vec![
            Demonstration {
                question: "T1".into(),
                statement: 0,
            },
            Demonstration {
                question: "T2".into(),
                statement: 1,
            },
        ],
        probes,
    }
}

#[test]
fn hand_worked_global_top1_and_top_k_with_ties_and_missing_answers() {
    let (catalog, people) = tiny_pool();
    let answers = AnswerMatrix::new(&people);
    let pool: Vec<usize> = (0..4).collect();
    // Global: T3 polar answers 0, 1, 1, (missing) -> 1; T1 polar 0, 0, 1, 0 -> 0.
    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    assert_eq!(global.predict(2, Granularity::Polar), 1);
    assert_eq!(global.predict(0, Granularity::Polar), 0);
    // A tie (people 11 and 13 on T3: 0 and 1) goes to the smaller index.
    let tie = GlobalMajority::fit(&catalog, &answers, &[0, 2]);
    assert_eq!(tie.predict(2, Granularity::Polar), 0);

    // Similarities to demonstrations (T1 = 0, T2 = 1): 11 -> 2, 12 -> 1 (T2 missing), 13 -> 1,
    // 14 -> 2. Ranking by similarity, ties by id: 11, 14, 12, 13.
    let index =
        ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Polar).unwrap();
    let mut sims = Vec::new();
    index.similarities(&index.mask(&[(0, 0), (1, 1)]).unwrap(), &mut sims);
    // A statement the question does not have is an error, not a bit in the next question.
    assert!(index.mask(&[(0, 2)]).is_err());
    assert!(index.mask(&[(3, 0)]).is_err());
    assert_eq!(sims, vec![2, 1, 1, 2]);
    assert_eq!(ResembleIndex::ranking(&sims), vec![0, 3, 1, 2]);

    // Probe T3 (gold 1). Voters who answered T3, in rank order: 11 (0), 12 (1), 13 (1); 14 is
    // missing and never votes.
    // k=1: 11 -> 0. k=2: 0 vs 1 tied, the better-ranked voter (11) wins -> 0.
    // k=3: 1 (two votes). k=4: still three voters -> 1.
    let task = tiny_task(vec![Probe {
        question: "T3".into(),
        options: 2,
        gold: 1,
    }]);
    let sweep = resemble_sweep(
        &catalog,
        &answers,
        &index,
        &global,
        &[task],
        4,
        &[1, 2, 3, 4],
    )
    .unwrap();
    let predicted: Vec<Option<u8>> = (1..=4)
        .map(|k| sweep.predictions[&k][0].predicted)
        .collect();
    assert_eq!(predicted, vec![Some(0), Some(0), Some(1), Some(1)]);
    let accuracy: Vec<f64> = sweep.points.iter().map(|p| p.average).collect();
    assert_eq!(accuracy, vec![0.0, 0.0, 100.0, 100.0]);
    // Refined demonstrations against a polar index are refused.
    let mut refined = tiny_task(vec![]);
    refined.demo_granularity = Granularity::Refined;
    assert!(resemble_sweep(&catalog, &answers, &index, &global, &[refined], 4, &[]).is_err());
}

/// A brute-force top-k: rank by (similarity desc, id asc), take the first k who answered.
fn reference_top_k(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    pool: &[usize],
    global: &GlobalMajority,
    task: &ProbeTask,
    k: usize,
) -> Vec<u8> {
    let demos: Vec<(usize, u8)> = task
        .demonstrations
        .iter()
        .map(|d| (catalog.question_index(&d.question).unwrap(), d.statement))
        .collect();
    let mut ranked: Vec<(usize, i64, usize)> = pool
        .iter()
        .map(|&r| {
            let sim = demos
                .iter()
                .filter(|&&(q, s)| answers.answer(r, q, task.demo_granularity) == Some(s))
                .count();
            (sim, people.ids()[r], r)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    task.probes
        .iter()
        .map(|probe| {
            let q = catalog.question_index(&probe.question).unwrap();
            let voters: Vec<u8> = ranked
                .iter()
                .filter_map(|&(_, _, r)| answers.answer(r, q, task.probe_granularity))
                .take(k)
                .collect();
            if voters.is_empty() {
                return global.predict(q, task.probe_granularity);
            }
            let options = catalog.questions()[q]
                .statements(task.probe_granularity)
                .len();
            let mut votes = vec![0; options];
            for &v in &voters {
                votes[v as usize] += 1;
            }
            let max = *votes.iter().max().unwrap();
            // Among tied statements, the one voted first.
            *voters.iter().find(|&&v| votes[v as usize] == max).unwrap()
        })
        .collect()
}

fn synthetic(catalog: &Catalog, n: usize, seed: u64) -> Respondents {
    let model = SyntheticModel::new(
        catalog,
        &SynthConfig {
            people: n,
            seed,
            ..Default::default()
        },
    )
    .unwrap();
    model.respondents(catalog).unwrap()
}

#[test]
fn sweep_equals_brute_force_and_the_predictions_file_agrees() {
    let catalog = shared();
    let people = synthetic(&catalog, 3_000, 4);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria {
        people: 60,
        ..Default::default()
    };
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 2).unwrap();
    let pool = eval.training_rows(people.len());
    let spec = DemoSpec {
        mode: DemoMode::Mixed { min: 50, max: 200 },
        granularity: Granularity::Refined,
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
            seed: 2,
        },
    );
    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    let index =
        ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Refined).unwrap();
    let sweep = resemble_sweep(&catalog, &answers, &index, &global, &tasks, 9, &[1, 4, 9]).unwrap();
    // Top-k with k = 1 equals the stand-alone top-1.
    let top1 = resemble_top1(&catalog, &answers, &index, &global, &tasks).unwrap();
    assert_eq!(top1, sweep.predictions[&1]);
    for k in [1, 4, 9] {
        let mut at = 0;
        for task in &tasks {
            let expected = reference_top_k(&catalog, &people, &answers, &pool, &global, task, k);
            for e in expected {
                assert_eq!(sweep.predictions[&k][at].predicted, Some(e), "k={k}");
                at += 1;
            }
        }
        // Accuracy from the predictions file equals the sweep's in-memory figure.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("top.jsonl");
        let header = TaskFileHeader::new(
            PREDICTIONS_FORMAT,
            &catalog,
            2,
            "test",
            serde_json::json!({}),
        );
        PredictionsFile::write(&path, &header, &sweep.predictions[&k]).unwrap();
        let (_, from_file) = PredictionsFile::read(&path, &catalog).unwrap();
        let report = AccuracyReport::compute(&catalog, &from_file, &Bootstrap::default()).unwrap();
        let point = &sweep.points[k - 1];
        assert!((report.setup_average() - point.average).abs() < 1e-9);
        for (s, v) in &point.per_setup {
            assert!((report.per_setup[s] - v).abs() < 1e-9);
        }
    }
}

#[test]
fn on_a_synthetic_survey_global_is_below_top1_below_top24() {
    let catalog = shared();
    let people = synthetic(&catalog, 12_000, 9);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria {
        people: 150,
        ..Default::default()
    };
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 1).unwrap();
    let pool = eval.training_rows(people.len());
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
    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    let global_acc = AccuracyReport::compute(
        &catalog,
        &global.predictions(&catalog, &tasks).unwrap(),
        &Bootstrap::default(),
    )
    .unwrap()
    .setup_average();
    let index =
        ResembleIndex::build(&catalog, &people, &answers, &pool, Granularity::Polar).unwrap();
    let sweep = resemble_sweep(&catalog, &answers, &index, &global, &tasks, 24, &[]).unwrap();
    let (top1, top24) = (sweep.points[0].average, sweep.points[23].average);
    assert!(global_acc + 2.0 < top1, "global {global_acc} top1 {top1}");
    assert!(top1 + 2.0 < top24, "top1 {top1} top24 {top24}");
}
