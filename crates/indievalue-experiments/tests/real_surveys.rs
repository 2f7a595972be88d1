//! The real open surveys (`surveys/gss-spending`, `surveys/bfi`; CSVs fetched by
//! `scripts/fetch_surveys.sh`, which the README's test command runs): the converted counts equal
//! the package frame's (counted by the fetch script from the pandas frame itself, not from the
//! CSV), every code in the data is one the description maps (or -1, no answer), and the GSS
//! goes through sampling and the baselines, Global checked against the pool's majority counted
//! from the CSV and Resemble top-k against an independent computation.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_experiments::SurveyRun;
use indievalue_sampling::AnswerMatrix;
use indievalue_testdata::{survey_cache_dir, survey_dir};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

fn fetched(name: &str, ext: &str) -> PathBuf {
    let path = survey_cache_dir().join(format!("{name}.{ext}"));
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/fetch_surveys.sh` (the README's test command does)",
        path.display()
    );
    path
}

#[test]
fn converted_counts_equal_the_package_frames_and_every_code_is_described() {
    for name in ["gss-spending", "bfi"] {
        let catalog = Catalog::load(survey_dir(name)).unwrap();
        let counts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fetched(name, "counts.json")).unwrap())
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = SurveyRun::new(&catalog, dir.path(), 0);
        let conversion = run.convert(&fetched(name, "csv")).unwrap();
        let report = &conversion.report;
        assert_eq!(report.people, counts["people"].as_u64().unwrap(), "{name}");
        assert_eq!(report.duplicates_dropped, 0, "{name}");
        let columns = counts["columns"].as_object().unwrap();
        // Value questions: valid answers = the frame's non-missing values; the only invalid code
        // is -1 (no answer), as often as the frame has missing values.
        for (q, (question, invalid)) in catalog
            .questions()
            .iter()
            .zip(&report.invalid_codes)
            .enumerate()
        {
            let column = &columns[question.id().as_str()];
            let valid = conversion
                .respondents
                .question(q)
                .polar
                .iter()
                .filter(|&&s| s != u8::MAX)
                .count();
            assert_eq!(
                valid as u64,
                column["non_missing"].as_u64().unwrap(),
                "{name} {}",
                question.id()
            );
            assert_eq!(
                invalid.total,
                column["missing"].as_u64().unwrap(),
                "{name} {}",
                question.id()
            );
            assert!(
                invalid.codes.keys().all(|&c| c == -1),
                "{name} {}: {:?}",
                question.id(),
                invalid.codes
            );
            // Per code, the frame's counts.
            let raw = &conversion.respondents.question(q).raw;
            for (code, n) in column["counts"].as_object().unwrap() {
                let code: i32 = code.parse().unwrap();
                let found = raw.iter().filter(|&&c| c == code).count() as u64;
                assert_eq!(
                    found,
                    n.as_u64().unwrap(),
                    "{name} {} code {code}",
                    question.id()
                );
            }
        }
        // Demographic items: every code of the data is described, or -1 (or, for bfi's age,
        // the codes the fetch script set to -1).
        for (item, invalid) in catalog
            .demographics()
            .iter()
            .zip(&report.invalid_demographic_codes)
        {
            let column = &columns[item.column()];
            assert_eq!(
                invalid.total,
                column["missing"].as_u64().unwrap(),
                "{name} {}",
                item.id()
            );
            assert!(
                invalid.codes.keys().all(|&c| c == -1),
                "{name} {}: {:?}",
                item.id(),
                invalid.codes
            );
        }
    }
}

#[test]
fn gss_spending_baselines_equal_independent_computations() {
    let catalog = Catalog::load(survey_dir("gss-spending")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = SurveyRun::new(&catalog, dir.path(), 0);
    let csv = fetched("gss-spending", "csv");
    let conversion = run.convert(&csv).unwrap();
    let people = &conversion.respondents;
    let answers = AnswerMatrix::new(people);
    let sample = run.sample(people, &answers, None, None).unwrap();
    assert_eq!(sample.eval.ids.len(), 300);
    // Balanced by party identification: 8 groups of 37 or 38.
    assert_eq!(sample.eval.per_group.len(), 8);
    assert!(
        sample.eval.per_group.values().all(|&n| n == 37 || n == 38),
        "{:?}",
        sample.eval.per_group
    );
    let (results, table) = run.baselines(people, &answers, &sample).unwrap();
    assert!(table.to_markdown().contains("sigma-INEQUITY"));

    // The CSV, read here: id, then the 18 items in CSV order (codes 1 too little, 2 about
    // right, 3 too much; polar = refined = the code's position).
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<i64>> = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    let held_out: HashSet<i64> = sample.eval.ids.iter().copied().collect();
    let col = |q: &str| header.iter().position(|h| *h == q).unwrap();

    // Global: the pool's majority per item (ties to the smaller statement).
    let mut majority: HashMap<&str, u8> = HashMap::new();
    for q in catalog.questions() {
        let c = col(q.id().as_str());
        let mut counts = [0usize; 3];
        for r in rows
            .iter()
            .filter(|r| !held_out.contains(&r[0]) && r[c] > 0)
        {
            counts[(r[c] - 1) as usize] += 1;
        }
        let best = (0..3).max_by_key(|&s| (counts[s], 3 - s)).unwrap();
        majority.insert(q.id().as_str(), best as u8);
    }
    let global = &results.runs[0];
    assert_eq!(global.name, "global");
    for p in &global.predictions {
        assert_eq!(
            p.predicted,
            Some(majority[p.question.as_str()]),
            "{}",
            p.question
        );
    }

    // Resemble top-24, computed here by brute force: rank the pool by shared demonstration
    // answers (ties by ascending id), take the 24 best who answered the probe, majority (ties
    // to the best-ranked voter's answer). Compared on accuracy per setup within 0.5 points.
    let by_id: HashMap<i64, &Vec<i64>> = rows.iter().map(|r| (r[0], r)).collect();
    let mut pool: Vec<&Vec<i64>> = rows.iter().filter(|r| !held_out.contains(&r[0])).collect();
    pool.sort_by_key(|r| r[0]);
    let mut right: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for task in &sample.tasks {
        let demos: Vec<(usize, i64)> = task
            .demonstrations
            .iter()
            .map(|d| (col(&d.question), i64::from(d.statement) + 1))
            .collect();
        let mut ranked: Vec<(usize, i64, &Vec<i64>)> = pool
            .iter()
            .map(|r| (demos.iter().filter(|&&(c, v)| r[c] == v).count(), r[0], *r))
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let person = by_id[&task.person];
        for probe in &task.probes {
            let c = col(&probe.question);
            let voters: Vec<i64> = ranked
                .iter()
                .filter(|r| r.2[c] > 0)
                .take(24)
                .map(|r| r.2[c])
                .collect();
            let mut votes = [0usize; 4];
            for &v in &voters {
                votes[v as usize] += 1;
            }
            let top = *votes.iter().max().unwrap();
            let choice = voters
                .iter()
                .find(|&&v| votes[v as usize] == top)
                .copied()
                .unwrap();
            let e = right.entry(task.setup).or_default();
            e.0 += usize::from(choice == person[c]);
            e.1 += 1;
        }
    }
    let top_k = results.runs.iter().find(|r| r.name == "top24").unwrap();
    let report = indievalue_metrics::AccuracyReport::compute(
        &catalog,
        &top_k.predictions,
        &indievalue_metrics::Bootstrap {
            samples: 0,
            ..Default::default()
        },
    )
    .unwrap();
    for (setup, (ok, n)) in right {
        let ours = report.per_setup[&setup];
        let theirs = 100.0 * ok as f64 / n as f64;
        assert!(
            (ours - theirs).abs() < 0.5,
            "setup {setup}: {ours} vs {theirs}"
        );
    }
    assert!(
        sample
            .tasks
            .iter()
            .all(|t| t.probe_granularity == Granularity::Polar)
    );
}
