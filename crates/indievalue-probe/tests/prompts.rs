//! Rendered prompts for a fixed task equal texts written from the paper's appendix
//! (`fixtures/probe/*.txt`: the appendix wording with its placeholders filled by hand), and the
//! answer parser against a table of malformed answers.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_probe::{GroupFailure, PromptBuilder, parse_answer};
use indievalue_sampling::{DemoMode, DemographicStatement, Demonstration, Probe, ProbeTask};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Person 7 of the tiny catalog: a woman who rates rainy days fairly high (refined), probed on
/// T1 and T3 in polar form.
fn task() -> ProbeTask {
    ProbeTask {
        person: 7,
        setup: 0,
        probe_granularity: Granularity::Polar,
        demo_granularity: Granularity::Refined,
        demo_mode: DemoMode::Fixed(1),
        demographics: vec![DemographicStatement {
            item: "Q260".into(),
            option: 1,
        }],
        demonstrations: vec![Demonstration {
            question: "T2".into(),
            statement: 2,
        }],
        probes: vec![
            Probe {
                question: "T1".into(),
                options: 2,
                gold: 0,
            },
            Probe {
                question: "T3".into(),
                options: 2,
                gold: 1,
            },
        ],
    }
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(root().join("fixtures/probe").join(name)).unwrap()
}

#[test]
fn probing_prompt_matches_appendix_b1() {
    let catalog = Catalog::load(root().join("fixtures/tiny-meta")).unwrap();
    let prompts = PromptBuilder::new(&catalog);
    let got = prompts.probing_prompt(&task()).unwrap();
    let want = expected("probing_prompt.txt");
    if got != want {
        let at = got
            .bytes()
            .zip(want.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        panic!(
            "differs at byte {at}:\n got: {:?}\nwant: {:?}",
            &got[at.saturating_sub(40)..(at + 60).min(got.len())],
            &want[at.saturating_sub(40)..(at + 60).min(want.len())]
        );
    }
}

#[test]
fn question_prompt_and_answer_match_appendix_c1() {
    let catalog = Catalog::load(root().join("fixtures/tiny-meta")).unwrap();
    let prompts = PromptBuilder::new(&catalog);
    let t = task();
    assert_eq!(
        prompts.question_prompt(&t, &t.probes[1]).unwrap(),
        expected("question_prompt.txt")
    );
    assert_eq!(
        prompts.question_answer(&t, &t.probes[1], 1).unwrap(),
        "Option 2: I at least sometimes lock the shed"
    );
    // Without demographics only the demonstrations are known.
    let mut bare = t.clone();
    bare.demographics.clear();
    assert_eq!(
        prompts.known_statements(&bare).unwrap(),
        "# I rate rainy days fairly high"
    );
    // A task that does not fit the catalog is an error, not a panic.
    let mut bad = t.clone();
    bad.probes[0].options = 4;
    assert!(prompts.probing_prompt(&bad).is_err());
    bad = t;
    bad.demonstrations[0].statement = 9;
    assert!(prompts.known_statements(&bad).is_err());
}

#[test]
fn statement_list_head_is_the_cloze_prompt() {
    let catalog = Catalog::load(root().join("fixtures/tiny-meta")).unwrap();
    let prompts = PromptBuilder::new(&catalog);
    let known = prompts.known_statements(&task()).unwrap();
    assert_eq!(
        PromptBuilder::statement_list_head(&known),
        "Here is a list of statements from Person A, illustrating Person A’s values and preferences.\n\n[Known statements]:\n\n```\n# I am a woman\n# I rate rainy days fairly high\n# "
    );
    // No known statements: the list opens directly with the scored line.
    assert_eq!(
        PromptBuilder::statement_list_head(""),
        "Here is a list of statements from Person A, illustrating Person A’s values and preferences.\n\n[Known statements]:\n\n```\n# "
    );
}

#[test]
fn parser_table_of_malformed_answers() {
    let options = [2u8, 3, 2];
    let ok = r#"{"NSG1": {"rationale": "r", "choice": "NSG1_s2"}, "NSG2": {"rationale": "r", "choice": "NSG2_s3"}, "NSG3": {"rationale": "r", "choice": "NSG3_s1"}}"#;
    type Row = (&'static str, String, Vec<Result<u8, GroupFailure>>);
    let all_ok = vec![Ok(1), Ok(2), Ok(0)];
    let table: Vec<Row> = vec![
        ("plain", ok.to_owned(), all_ok.clone()),
        ("code fence", format!("```json\n{ok}\n```"), all_ok.clone()),
        ("prose around", format!("Here is my answer:\n{ok}\nI hope this helps!"), all_ok.clone()),
        (
            "keys in another order",
            r#"{"NSG3": {"choice": "NSG3_s1"}, "NSG1": {"choice": "NSG1_s2", "rationale": "x"}, "NSG2": {"choice": "NSG2_s3"}}"#.into(),
            all_ok.clone(),
        ),
        (
            "long group names",
            r#"{"new statement group 1 (NSG1)": {"choice": "NSG1_s2"}, "new statement group 2 (NSG2)": {"choice": "NSG2_s3"}, "NSG3": "NSG3_s1"}"#.into(),
            all_ok.clone(),
        ),
        (
            "missing group",
            r#"{"NSG1": {"choice": "NSG1_s2"}, "NSG3": {"choice": "NSG3_s1"}}"#.into(),
            vec![Ok(1), Err(GroupFailure::Missing), Ok(0)],
        ),
        (
            "choice out of range",
            r#"{"NSG1": {"choice": "NSG1_s3"}, "NSG2": {"choice": "NSG2_s0"}, "NSG3": {"choice": "NSG3_s2"}}"#.into(),
            vec![
                Err(GroupFailure::InvalidChoice("NSG1_s3".into())),
                Err(GroupFailure::InvalidChoice("NSG2_s0".into())),
                Ok(1),
            ],
        ),
        (
            "choice of another group",
            r#"{"NSG1": {"choice": "NSG2_s1"}, "NSG2": {"choice": "NSG2_s1"}, "NSG3": {"choice": "NSG3_s2"}}"#.into(),
            vec![Err(GroupFailure::InvalidChoice("NSG2_s1".into())), Ok(0), Ok(1)],
        ),
        (
            "duplicate group",
            r#"{"NSG1": {"choice": "NSG1_s1"}, "NSG1": {"choice": "NSG1_s2"}, "NSG2": {"choice": "NSG2_s1"}, "NSG3": {"choice": "NSG3_s1"}}"#.into(),
            vec![Err(GroupFailure::Duplicate), Ok(0), Ok(0)],
        ),
        (
            "no choice field",
            r#"{"NSG1": {"rationale": "x"}, "NSG2": {"choice": 2}, "NSG3": {"choice": "NSG3_s1"}}"#.into(),
            vec![Err(GroupFailure::NoChoice), Err(GroupFailure::NoChoice), Ok(0)],
        ),
    ];
    for (name, answer, want) in table {
        let parsed = parse_answer(&answer, &options);
        assert_eq!(parsed.groups, want, "{name}");
    }
    // Invalid JSON, truncated output, and no JSON at all: every group fails, with the reason.
    for bad in [
        r#"{"NSG1": {"choice": "NSG1_s2"}, "NSG2": {"choice": "NSG2_s3""#,
        r#"{"NSG1": {'choice': 'NSG1_s2'}}"#,
        "I cannot answer that.",
        "",
    ] {
        let parsed = parse_answer(bad, &options);
        assert_eq!(parsed.valid(), 0, "{bad:?}");
        assert!(
            parsed
                .groups
                .iter()
                .all(|g| matches!(g, Err(GroupFailure::NoJson(_)))),
            "{bad:?}: {:?}",
            parsed.groups
        );
    }
    let extra = parse_answer(
        r#"{"NSG1": "NSG1_s1", "NSG9": "NSG9_s1", "note": "x"}"#,
        &options,
    );
    assert_eq!(
        extra.unknown_keys,
        vec!["NSG9".to_owned(), "note".to_owned()]
    );
}
