//! Parquet round trips of generated respondents, and refusal of a file from another catalog.

use indievalue_catalog::rng::Rng;
use indievalue_catalog::{Catalog, Error, Granularity, Respondents, meta_dir_from_env};
use indievalue_testdata::mini_catalog_dir;

/// Random raw codes: mostly valid codes of each item, some negative, some unknown positive.
fn generate(catalog: &Catalog, people: usize, seed: u64) -> Respondents {
    let mut rng = Rng::new(seed);
    let ids: Vec<i64> = (0..people as i64).map(|i| 1_000_000 + 7 * i).collect();
    let pick = |rng: &mut Rng, valid: &[i32]| -> i32 {
        match rng.below(20) {
            0 => -(rng.range_inclusive(1, 5) as i32),
            1 => 9_999,
            _ => valid[rng.below(valid.len() as u64) as usize],
        }
    };
    let answers = catalog
        .questions()
        .iter()
        .map(|q| {
            let valid: Vec<i32> = q.valid_codes().collect();
            (0..people).map(|_| pick(&mut rng, &valid)).collect()
        })
        .collect();
    let demographics = catalog
        .demographics()
        .iter()
        .map(|d| {
            let valid: Vec<i32> = d.code_map().pairs().iter().map(|p| p.0).collect();
            (0..people).map(|_| pick(&mut rng, &valid)).collect()
        })
        .collect();
    Respondents::from_raw(catalog, ids, answers, demographics).unwrap()
}

fn round_trip(catalog: &Catalog, people: usize) {
    let original = generate(catalog, people, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("respondents.parquet");
    original.write_parquet(catalog, &path).unwrap();
    let back = Respondents::read_parquet(catalog, &path).unwrap();
    assert_eq!(back.len(), people);
    assert_eq!(back, original);
    // Spot-check the mapping survived: an invalid raw code reads back as no answer.
    let q = &catalog.questions()[0];
    for p in 0..people {
        let raw = back.question(0).raw[p];
        assert_eq!(
            back.answer(p, 0, Granularity::Refined),
            q.statements(Granularity::Refined)
                .statement_for_code(raw.into())
        );
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("respondents.parquet")]
    );
}

#[test]
fn mini_catalog_round_trip_is_exact() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    round_trip(&catalog, 3_000);
}

#[test]
fn shared_catalog_round_trip_is_exact() {
    let dir = meta_dir_from_env().expect("INDIEVALUE_META_DIR must point at the authors' metadata");
    let catalog = Catalog::load(dir).unwrap();
    round_trip(&catalog, 4_000);
}

#[test]
fn empty_table_round_trips() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let empty = generate(&catalog, 0, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.parquet");
    empty.write_parquet(&catalog, &path).unwrap();
    assert_eq!(Respondents::read_parquet(&catalog, &path).unwrap(), empty);
}

#[test]
fn reading_against_another_catalog_is_an_error() {
    let mini = Catalog::load(mini_catalog_dir()).unwrap();
    let people = generate(&mini, 50, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("respondents.parquet");
    people.write_parquet(&mini, &path).unwrap();

    // A catalog that differs in a single statement has a different content hash.
    let other_dir = tempfile::tempdir().unwrap();
    for name in [
        "statements_meta_data.jsonl",
        "refined_statements_meta_data.jsonl",
        "demographics_meta_data.jsonl",
    ] {
        let mut text = std::fs::read_to_string(mini_catalog_dir().join(name)).unwrap();
        if name == "statements_meta_data.jsonl" {
            text = text.replacen("matters to me", "matters to me a lot", 1);
            assert!(
                text.contains("matters to me a lot"),
                "the edit must change the catalog"
            );
        }
        std::fs::write(other_dir.path().join(name), text).unwrap();
    }
    let other = Catalog::load(other_dir.path()).unwrap();
    assert_ne!(other.content_hash(), mini.content_hash());
    let err = Respondents::read_parquet(&other, &path).unwrap_err();
    match &err {
        Error::CatalogMismatch {
            expected,
            found,
            path: p,
        } => {
            assert_eq!(expected, other.content_hash());
            assert_eq!(found, mini.content_hash());
            assert_eq!(p, &path);
        }
        e => panic!("expected CatalogMismatch, got {e:?}"),
    }
    assert!(err.to_string().contains("respondents.parquet"));
    // Writing with the wrong catalog is refused too.
    assert!(
        people
            .write_parquet(&other, dir.path().join("x.parquet"))
            .is_err()
    );
}

#[test]
fn a_file_that_is_not_parquet_is_an_error() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.parquet");
    std::fs::write(&path, b"PAR1 this is not a parquet file").unwrap();
    let err = Respondents::read_parquet(&catalog, &path).unwrap_err();
    assert!(matches!(err, Error::Parquet { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.parquet"));
}

#[test]
fn inconsistent_columns_are_rejected() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let mut people = generate(&catalog, 10, 5);
    let mut questions = people.questions().to_vec();
    questions[3].polar[2] = 17; // out of range for any mini question
    let err = Respondents::from_parts(
        &catalog,
        people.ids().to_vec(),
        questions,
        people.demographics().to_vec(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    people = generate(&catalog, 10, 5);
    let err = Respondents::from_parts(
        &catalog,
        vec![1, 2],
        people.questions().to_vec(),
        people.demographics().to_vec(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("for 2 people"), "{err}");
}
