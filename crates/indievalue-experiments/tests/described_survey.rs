//! A described survey end to end: the tiny made-up survey of `fixtures/tiny-survey` (three
//! categories of 4, 2 and 3 questions, two setups, a balance item with three groups, a code-list
//! demographic) through synth, convert, sampling, baselines and the report. Global's
//! predictions are checked against a majority counted straight from the CSV and the metadata
//! files, independently of the converter and the answer matrix.

use indievalue_baselines::run_baselines;
use indievalue_catalog::{Catalog, Granularity, Respondents};
use indievalue_convert::{ConvertOptions, RESPONDENTS_FILE, convert_file, write_dataset};
use indievalue_experiments::{Plan, Runner};
use indievalue_sampling::{
    AnswerMatrix, DemoSpec, EvalCriteria, ProbeSetup, TaskSpec, build_probe_tasks,
    select_evaluation_set, survey_demo_mode,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::tiny_survey_dir;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Polar statement index of every raw code, per question id, read from the metadata file
/// itself (`answer_ids_to_grouped_answer_ids`).
fn polar_code_maps(dir: &Path) -> HashMap<String, HashMap<i64, usize>> {
    let text = std::fs::read_to_string(dir.join("statements_meta_data.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let map = v["answer_ids_to_grouped_answer_ids"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(code, s)| (code.parse().unwrap(), s.as_u64().unwrap() as usize))
                .collect();
            (v["question_id"].as_str().unwrap().to_owned(), map)
        })
        .collect()
}

/// The CSV as (header, rows of integers).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<i64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

#[test]
fn the_tiny_survey_runs_through_convert_sampling_baselines_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::load(tiny_survey_dir()).unwrap();
    // A synthetic survey for the description: id column, balance column first. No group skips
    // a question (a skipped probe question would leave a group without eligible people).
    let config = SynthConfig {
        people: 400,
        seed: 3,
        skipping_countries: 0.0,
        ..Default::default()
    };
    let model = SyntheticModel::new(&catalog, &config).unwrap();
    let csv = dir.path().join("tiny.csv");
    model.write_csv(&catalog, &csv).unwrap();
    let (header, rows) = read_csv(&csv);
    assert_eq!(&header[..3], ["pid", "region", "food1"]);
    assert_eq!(rows.len(), 400);

    // Convert: per-group counts by the balance item, unmapped codes counted per item.
    let conversion = convert_file(&catalog, &csv, &ConvertOptions::default()).unwrap();
    let data = dir.path().join("data");
    write_dataset(&catalog, &conversion, &data).unwrap();
    let report = &conversion.report;
    assert_eq!(report.people, 400);
    assert_eq!(report.balance_by.as_deref(), Some("region"));
    let region_col = header.iter().position(|h| h == "region").unwrap();
    for (code, name) in [(1, "north"), (2, "south"), (3, "east")] {
        let n = rows.iter().filter(|r| r[region_col] == code).count() as u64;
        assert_eq!(report.per_group.get(name), Some(&n), "{name}");
    }
    let age_col = header.iter().position(|h| h == "age").unwrap();
    let unmapped_age = rows
        .iter()
        .filter(|r| !(18..=80).contains(&r[age_col]))
        .count() as u64;
    let age = report
        .invalid_demographic_codes
        .iter()
        .find(|c| c.question == "age")
        .unwrap();
    assert_eq!(age.total, unmapped_age);

    // Sampling: the survey's setups, evaluation set and demonstration count.
    let people = Respondents::read_parquet(&catalog, data.join(RESPONDENTS_FILE)).unwrap();
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let ids: Vec<Vec<String>> = setups.iter().map(|s| s.question_ids(&catalog)).collect();
    assert_eq!(
        ids,
        [["food1", "travel1", "work1"], ["food2", "travel2", "work2"]]
    );
    let criteria = EvalCriteria::of_survey(&catalog, None);
    assert_eq!(
        (criteria.people, criteria.min_demonstration_answers),
        (30, 4)
    );
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 1).unwrap();
    assert_eq!(eval.ids.len(), 30);
    assert_eq!(
        eval.per_group,
        BTreeMap::from([
            ("east".into(), 10),
            ("north".into(), 10),
            ("south".into(), 10)
        ])
    );
    for &r in &eval.rows {
        for s in &setups {
            let mask = s.mask(catalog.questions().len());
            let shown = (0..mask.len())
                .filter(|&q| !mask[q] && answers.answer(r, q, Granularity::Polar).is_some())
                .count();
            assert!(shown >= 4);
            assert!(
                s.questions()
                    .iter()
                    .all(|&q| answers.answer(r, q, Granularity::Polar).is_some())
            );
        }
    }
    let demos = DemoSpec {
        mode: survey_demo_mode(&catalog),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let spec = TaskSpec {
        setups: &setups,
        demos,
        probe_granularity: Granularity::Polar,
        seed: 1,
    };
    let tasks = build_probe_tasks(&catalog, &people, &answers, &eval.rows, &spec);
    assert_eq!(tasks.len(), 60);
    assert!(
        tasks
            .iter()
            .all(|t| t.demonstrations.len() == 4 && t.probes.len() == 3)
    );

    // Baselines: Global equals the pool's majority counted from the CSV and the metadata.
    let pool = eval.training_rows(people.len());
    let results = run_baselines(&catalog, &people, &answers, &pool, &tasks, 5, 3).unwrap();
    let maps = polar_code_maps(&tiny_survey_dir());
    let held_out: std::collections::HashSet<i64> = eval.ids.iter().copied().collect();
    let mut majority: HashMap<String, usize> = HashMap::new();
    for (col, name) in header.iter().enumerate() {
        let Some(map) = maps.get(name) else { continue };
        let mut counts = vec![0usize; map.values().max().unwrap() + 1];
        for row in rows.iter().filter(|r| !held_out.contains(&r[0])) {
            if let Some(&s) = map.get(&row[col]) {
                counts[s] += 1;
            }
        }
        let best = (0..counts.len())
            .max_by_key(|&s| (counts[s], usize::MAX - s))
            .unwrap();
        majority.insert(name.clone(), best);
    }
    let global = &results.runs[0];
    assert_eq!(global.name, "global");
    for p in &global.predictions {
        assert_eq!(
            p.predicted,
            Some(majority[&p.question] as u8),
            "{}",
            p.question
        );
    }

    // The report: the survey's name, its Table 1 / Table 6 without the paper's columns,
    // inequity over its dimensions.
    let plan = format!(
        r#"
name = "tiny survey"
seed = 1
[data]
csv = "{}"
meta = "{}"
[evaluation]
people = 30
bootstrap = 20
top_k = 3
max_k = 5
[[experiment]]
kind = "catalog"
[[experiment]]
kind = "accuracy"
reasoners = ["baselines"]
[[experiment]]
kind = "inequity"
reasoners = ["baselines"]
"#,
        csv.display(),
        tiny_survey_dir().display()
    );
    let runner = Runner::new(
        Plan::parse(&plan, "tiny.toml").unwrap(),
        dir.path().join("out"),
    )
    .unwrap();
    let files = runner.run(&mut |_| {}).unwrap();
    let md = std::fs::read_to_string(&files.report_md).unwrap();
    for text in [
        "Survey: Tiny made-up survey.",
        "| Food |",
        "| Travel |",
        "| Region |",
        "| City |",
    ] {
        assert!(md.contains(text), "{text} missing from the report:\n{md}");
    }
    assert!(!md.contains("paper #Q"), "{md}");
    // Table 4 has one column per setup of the survey (2 here), and the learned rows.
    let table4 = std::fs::read_to_string(dir.path().join("out/tables/table4.csv")).unwrap();
    let header = table4.lines().next().unwrap();
    assert!(
        header.starts_with("Reasoner,people,polar 1,polar 2,polar avg,refined 1,"),
        "{header}"
    );
    // Fields of a CSV line: commas outside double quotes, plus one.
    let fields = |line: &str| {
        let mut quoted = false;
        1 + line
            .chars()
            .filter(|&c| {
                quoted ^= c == '"';
                c == ',' && !quoted
            })
            .count()
    };
    for line in table4.lines() {
        assert_eq!(fields(line), fields(header), "{line}");
    }
    assert!(md.contains("2 probe setups"), "{md}");
    assert!(table4.contains("Latent classes (EM)"), "{table4}");
    assert!(table4.contains(", recommended"), "{table4}");
}
