//! Malformed metadata gets a typed error naming file and line, never a panic.

use indievalue_catalog::{Catalog, DEMOGRAPHICS_FILE, Error, POLAR_FILE, REFINED_FILE};
use indievalue_testdata::mini_catalog_dir;
use std::path::Path;

/// Copies the mini catalog into a temporary directory, applying `edit` to one file's text.
fn edited(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [POLAR_FILE, REFINED_FILE, DEMOGRAPHICS_FILE] {
        let text = std::fs::read_to_string(mini_catalog_dir().join(name)).unwrap();
        let text = if name == file { edit(text) } else { text };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn replace_line(text: String, line: usize, f: impl Fn(&str) -> String) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line { f(l) } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}

fn names(err: &Error, file: &str, line: usize) {
    let msg = err.to_string();
    assert!(msg.contains(file), "{msg:?} should name {file}");
    assert!(
        msg.contains(&format!(":{line}")),
        "{msg:?} should name line {line}"
    );
}

#[test]
fn truncated_line() {
    let dir = edited(POLAR_FILE, |t| {
        replace_line(t, 3, |l| l[..l.len() / 2].to_owned())
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Json { line: 3, .. }), "{err:?}");
    names(&err, POLAR_FILE, 3);
}

#[test]
fn truncated_last_line_without_newline() {
    let dir = edited(REFINED_FILE, |t| {
        let t = t.trim_end().to_owned();
        t[..t.len() - 40].to_owned()
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Json { line: 65, .. }), "{err:?}");
    names(&err, REFINED_FILE, 65);
}

#[test]
fn category_disagreeing_between_the_files() {
    // Any category name is allowed, but both files must give a question the same one.
    let dir = edited(REFINED_FILE, |t| {
        replace_line(t, 7, |l| l.replace("Happiness and Well-Being", "Astrology"))
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    match &err {
        Error::Disagree { line, message, .. } => {
            assert_eq!(*line, 7);
            assert!(message.contains("Astrology"), "{message}");
        }
        other => panic!("expected Disagree, got {other:?}"),
    }
    names(&err, REFINED_FILE, 7);
}

#[test]
fn code_mapped_to_missing_statement() {
    // Point every raw code of line 2 at statement 9, which does not exist.
    let dir = edited(POLAR_FILE, |t| {
        replace_line(t, 2, |l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let map = v["answer_ids_to_grouped_answer_ids"]
                .as_object_mut()
                .unwrap();
            let first = map.keys().next().unwrap().clone();
            map.insert(first, 9.into());
            v.to_string()
        })
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Invalid { line: 2, .. }), "{err:?}");
    assert!(err.to_string().contains("maps to statement 9"), "{err}");
    names(&err, POLAR_FILE, 2);
}

#[test]
fn unreachable_statement() {
    let dir = edited(POLAR_FILE, |t| {
        replace_line(t, 4, |l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["converted_statements"]
                .as_array_mut()
                .unwrap()
                .push("a statement nobody can choose".into());
            v.to_string()
        })
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not reachable"), "{err}");
    names(&err, POLAR_FILE, 4);
}

#[test]
fn polar_and_refined_disagree_on_order() {
    // Swap lines 1 and 2 of the refined file only.
    let dir = edited(REFINED_FILE, |t| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.swap(0, 1);
        lines.join("\n")
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Disagree { line: 1, .. }), "{err:?}");
    names(&err, REFINED_FILE, 1);
    assert!(err.to_string().contains(POLAR_FILE));
}

#[test]
fn polar_and_refined_disagree_on_length() {
    let dir = edited(REFINED_FILE, |t| {
        let lines: Vec<&str> = t.lines().collect();
        lines[..lines.len() - 1].join("\n")
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Disagree { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("65 questions in the polar file, 64"),
        "{err}"
    );
}

#[test]
fn missing_file() {
    let dir = edited(POLAR_FILE, |t| t);
    std::fs::remove_file(dir.path().join(DEMOGRAPHICS_FILE)).unwrap();
    let err = Catalog::load(dir.path()).unwrap_err();
    match &err {
        Error::MissingFile { path } => {
            assert_eq!(path, &dir.path().join(DEMOGRAPHICS_FILE));
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
    assert!(err.to_string().contains(DEMOGRAPHICS_FILE));
}

#[test]
fn bad_demographic_line() {
    let dir = edited(DEMOGRAPHICS_FILE, |t| {
        replace_line(t, 3, |l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut()
                .unwrap()
                .remove("answer_ids_to_grouped_answer_ids");
            v.to_string()
        })
    });
    let err = Catalog::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Invalid { line: 3, .. }), "{err:?}");
    names(&err, DEMOGRAPHICS_FILE, 3);
}

#[test]
fn the_mini_catalog_itself_loads() {
    let c = Catalog::load(Path::new(&mini_catalog_dir())).unwrap();
    assert_eq!(c.questions().len(), 65);
    assert_eq!(c.categories().len(), 13);
}
