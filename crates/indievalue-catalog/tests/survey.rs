//! Survey descriptions: the fixture survey loads as described, the WVS without `survey.toml`
//! keeps the paper's rules, and bad descriptions are typed errors naming file and key or line.

use indievalue_catalog::{
    Catalog, DEMOGRAPHICS_FILE, Error, POLAR_FILE, REFINED_FILE, SURVEY_FILE, SurveySettings,
};
use indievalue_testdata::{mini_catalog_dir, survey_dir, tiny_survey_dir};
use std::path::Path;

/// A copy of the tiny survey with one file edited.
fn edited(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [POLAR_FILE, REFINED_FILE, DEMOGRAPHICS_FILE, SURVEY_FILE] {
        let text = std::fs::read_to_string(tiny_survey_dir().join(name)).unwrap();
        let text = if name == file { edit(text) } else { text };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The `Error::Survey` of loading `dir`, checked to name `survey.toml` and `key`.
fn survey_error(dir: &Path, key: &str) -> String {
    match Catalog::load(dir).unwrap_err() {
        Error::Survey {
            path,
            key: found,
            message,
        } => {
            assert!(path.ends_with(SURVEY_FILE), "{}", path.display());
            assert_eq!(found, key, "{message}");
            let shown = Error::Survey {
                path,
                key: found,
                message: message.clone(),
            }
            .to_string();
            assert!(
                shown.contains(SURVEY_FILE) && shown.contains(key),
                "{shown}"
            );
            message
        }
        other => panic!("expected Error::Survey for {key}, got {other:?}"),
    }
}

#[test]
fn the_tiny_survey_loads_as_described() {
    let catalog = Catalog::load(tiny_survey_dir()).unwrap();
    let survey = catalog.survey();
    assert!(survey.described);
    assert_eq!(survey.name, "Tiny made-up survey");
    assert_eq!(survey.id_column, "pid");
    assert_eq!((survey.probes.setups, survey.probes.per_category), (2, 1));
    assert_eq!(survey.evaluation.people, 30);
    assert_eq!(survey.evaluation.balance_by.as_deref(), Some("region"));
    assert_eq!(survey.evaluation.demonstrations, Some(4));
    // Categories in order of first appearance, any number, unequal sizes.
    let names: Vec<&str> = catalog
        .categories()
        .into_iter()
        .map(|c| catalog.category_name(c))
        .collect();
    assert_eq!(names, ["Food", "Travel", "Work"]);
    let sizes: Vec<usize> = catalog
        .categories()
        .into_iter()
        .map(|c| catalog.by_category(c).count())
        .collect();
    assert_eq!(sizes, [4, 2, 3]);
    // No short names given: figures show the full names.
    assert_eq!(
        catalog.category_short_name(catalog.categories()[1]),
        "Travel"
    );
    // Inequity dimensions named by the items' labels.
    let dims: Vec<(&str, &str)> = survey
        .inequity
        .iter()
        .map(|d| (d.name.as_str(), d.item.as_str()))
        .collect();
    assert_eq!(
        dims,
        [("Region", "region"), ("City", "city"), ("Age", "age")]
    );
    // Groups: the balance item's options; the age item groups raw codes 18..80 in three bands.
    let region = catalog.demographic("region").unwrap();
    assert_eq!(region.groups(), ["north", "south", "east"]);
    let age = catalog.demographic("age").unwrap();
    assert_eq!(age.option_for_code(39), Some(0));
    assert_eq!(age.option_for_code(40), Some(1));
    assert_eq!(age.option_for_code(17), None);
    assert_eq!(catalog.demographic("city").unwrap().groups().len(), 4);
}

#[test]
fn a_directory_without_survey_toml_is_the_wvs_with_the_papers_rules() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    assert_eq!(catalog.survey(), &SurveySettings::wvs());
    assert_eq!(catalog.survey().id_column, "D_INTERVIEW");
    assert_eq!(catalog.categories().len(), 13);
}

#[test]
fn the_committed_real_survey_descriptions_load() {
    for (name, questions, categories, items) in [("gss-spending", 18, 6, 10), ("bfi", 25, 5, 3)] {
        let catalog = Catalog::load(survey_dir(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(catalog.survey().described, "{name}");
        assert_eq!(catalog.questions().len(), questions, "{name}");
        assert_eq!(catalog.categories().len(), categories, "{name}");
        assert_eq!(catalog.demographics().len(), items, "{name}");
    }
}

#[test]
fn an_unknown_key_is_named_by_its_dotted_path() {
    let dir = edited(SURVEY_FILE, |t| {
        t.replace("per_category = 1", "per_categroy = 1")
    });
    let message = survey_error(dir.path(), "probes.per_categroy");
    assert!(message.contains("per_category"), "{message}");
    let dir = edited(SURVEY_FILE, |t| format!("colour = \"blue\"\n{t}"));
    survey_error(dir.path(), "colour");
}

#[test]
fn a_balance_item_that_is_no_demographic_item_is_refused() {
    let dir = edited(SURVEY_FILE, |t| {
        t.replace("balance_by = \"region\"", "balance_by = \"planet\"")
    });
    let message = survey_error(dir.path(), "evaluation.balance_by");
    assert!(
        message.contains("planet") && message.contains("region"),
        "{message}"
    );
}

#[test]
fn more_probes_per_category_than_a_category_has_says_what_is_short() {
    let dir = edited(SURVEY_FILE, |t| {
        t.replace("per_category = 1", "per_category = 3")
    });
    let message = survey_error(dir.path(), "probes.per_category");
    // Travel has 2 questions: one short.
    assert!(
        message.contains("Travel") && message.contains("1 short"),
        "{message}"
    );
}

#[test]
fn an_unknown_inequity_dimension_is_named_by_position() {
    let dir = edited(SURVEY_FILE, |t| {
        t.replace("\"city\", \"age\"", "\"city\", \"shoe size\"")
    });
    survey_error(dir.path(), "inequity.dimensions[2]");
}

#[test]
fn a_wrongly_typed_value_or_bad_syntax_names_the_line() {
    let dir = edited(SURVEY_FILE, |t| t.replace("setups = 2", "setups = \"two\""));
    let message = survey_error(dir.path(), "line 7");
    assert!(!message.is_empty());
    let dir = edited(SURVEY_FILE, |t| t.replace("[probes]", "[probes"));
    survey_error(dir.path(), "line 6");
}

#[test]
fn metadata_that_contradicts_itself_names_file_and_line() {
    // Line 3 (food3) lists raw code 2 in answer_ids, but its code map does not know it.
    let dir = edited(REFINED_FILE, |t| {
        t.lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 2 {
                    l.replace(
                        "\"answer_ids_to_grouped_answer_ids\": {\"1\": 0, \"2\": 1}",
                        "\"answer_ids_to_grouped_answer_ids\": {\"1\": 0, \"3\": 1}",
                    )
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Invalid { line: 3, .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains(REFINED_FILE) && shown.contains(":3"),
        "{shown}"
    );
    assert!(shown.contains("raw code 2"), "{shown}");
}
