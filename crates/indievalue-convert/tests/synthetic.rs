//! Generator -> converter -> Parquet -> reader, and the report checked against an independent
//! count made here from the raw CSV text.

use indievalue_catalog::{Catalog, Granularity, Respondents, meta_dir_from_env};
use indievalue_convert::{ConvertOptions, RESPONDENTS_FILE, convert_file, write_dataset};
use indievalue_synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::mini_catalog_dir;
use std::collections::{HashMap, HashSet};

#[test]
fn round_trip_gives_back_the_generators_statements() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let config = SynthConfig {
        people: 3_000,
        seed: 11,
        duplicate_rate: 0.05,
        ..Default::default()
    };
    let model = SyntheticModel::new(&catalog, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wvs.csv");
    let summary = model.write_csv(&catalog, &csv).unwrap();
    assert!(summary.duplicate_rows > 50, "{summary:?}");

    let conversion = convert_file(&catalog, &csv, &ConvertOptions::default()).unwrap();
    assert_eq!(
        conversion.report.duplicates_dropped,
        summary.duplicate_rows as u64
    );
    write_dataset(&catalog, &conversion, dir.path().join("data")).unwrap();
    let people =
        Respondents::read_parquet(&catalog, dir.path().join("data").join(RESPONDENTS_FILE))
            .unwrap();
    assert_eq!(people.len(), 3_000);
    for index in 0..3_000 {
        let person = model.person(&catalog, index);
        assert_eq!(people.ids()[index], person.id);
        for (q, question) in catalog.questions().iter().enumerate() {
            for g in Granularity::ALL {
                let expected = question
                    .statements(g)
                    .statement_for_code(person.answers[q].into());
                assert_eq!(people.answer(index, q, g), expected, "person {index} q {q}");
            }
        }
        for (d, item) in catalog.demographics().iter().enumerate() {
            assert_eq!(
                people.demographic_option(index, d),
                item.option_for_code(person.demographics[d].into())
            );
        }
    }
}

#[test]
fn report_matches_an_independent_count_on_the_full_catalog() {
    let meta =
        meta_dir_from_env().expect("INDIEVALUE_META_DIR must point at the authors' metadata");
    let catalog = Catalog::load(meta).unwrap();
    let config = SynthConfig {
        people: 20_000,
        seed: 3,
        duplicate_rate: 0.01,
        ..Default::default()
    };
    let model = SyntheticModel::new(&catalog, &config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("wvs.csv");
    model.write_csv(&catalog, &csv).unwrap();
    let report = convert_file(&catalog, &csv, &ConvertOptions::default())
        .unwrap()
        .report;

    // Independent count: split the text ourselves (the generator quotes no comma).
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (*h, i)).collect();
    let id_col = col["D_INTERVIEW"];
    let mut seen = HashSet::new();
    let (mut rows, mut duplicates, mut people, mut all) = (0u64, 0u64, 0u64, 0u64);
    let mut per_person: Vec<f64> = Vec::new();
    let mut invalid = vec![0u64; catalog.questions().len()];
    for line in lines {
        rows += 1;
        let cells: Vec<&str> = line.split(',').collect();
        if !seen.insert(cells[id_col].to_owned()) {
            duplicates += 1;
            continue;
        }
        people += 1;
        let mut valid = 0;
        for (q, question) in catalog.questions().iter().enumerate() {
            let code: i64 = cells[col[question.id().as_str()]].parse().unwrap();
            if question
                .statements(Granularity::Refined)
                .statement_for_code(code)
                .is_some()
            {
                valid += 1;
            } else {
                invalid[q] += 1;
            }
        }
        if valid == catalog.questions().len() {
            all += 1;
        }
        per_person.push(valid as f64);
    }
    let total: f64 = per_person.iter().sum();
    let mean = total / people as f64;
    let sd = (per_person.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / people as f64).sqrt();

    assert_eq!(report.rows_read, rows);
    assert_eq!(report.duplicates_dropped, duplicates);
    assert!(duplicates > 100);
    assert_eq!(report.people, people);
    assert_eq!(report.valid_answers, total as u64);
    assert!((report.valid_per_person_mean - mean).abs() < 1e-9);
    assert!((report.valid_per_person_sd - sd).abs() < 1e-9);
    assert_eq!(report.people_all_253, all);
    let totals: Vec<u64> = report.invalid_codes.iter().map(|i| i.total).collect();
    assert_eq!(totals, invalid);
    // The synthetic population looks like the survey's: about 240 valid answers per person.
    assert!(mean > 230.0 && mean < 250.0, "{mean}");
}
