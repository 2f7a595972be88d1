//! The plan parser's errors, the stability of content keys, and a baselines-only run that a
//! second run reproduces byte for byte without recomputing anything.

use indievalue_experiments::{Error, JobStatus, Plan, Runner};
use indievalue_testdata::mini_catalog_dir;

const BASE: &str = r#"
name = "test"
seed = 3

[data]
synthetic = { people = 400 }

[evaluation]
people = 12
demonstrations = 100
bootstrap = 50
top_k = 4
max_k = 6

[[experiment]]
kind = "catalog"

[[experiment]]
kind = "accuracy"
reasoners = ["baselines"]

[[experiment]]
kind = "top-k"

[[experiment]]
kind = "inequity"
reasoners = ["baselines"]
"#;

/// The key named by a plan error (panics on any other outcome, naming it).
fn error_key(text: &str) -> String {
    match Plan::parse(text, "test.toml") {
        Err(Error::Plan { key, file, .. }) => {
            assert_eq!(file, "test.toml");
            key
        }
        Err(other) => panic!("expected a plan error, got {other}"),
        Ok(_) => panic!("the plan was accepted:\n{text}"),
    }
}

#[test]
fn the_base_plan_and_the_shipped_plans_parse() {
    let plan = Plan::parse(BASE, "test.toml").unwrap();
    assert_eq!(plan.experiments.len(), 4);
    assert_eq!(plan.evaluation.top_k, 4);
    let small = Plan::embedded_default().unwrap();
    assert_eq!(small.reasoners.len(), 2);
    assert_eq!(
        small.experiments.len(),
        9,
        "every experiment of the runner and the ablations"
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans");
    let paper = Plan::load(root.join("paper.toml")).unwrap();
    assert_eq!(paper.evaluation.people, 800);
    assert!(paper.is_real_survey());
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    assert_eq!(error_key(&format!("colour = 1\n{BASE}")), "colour");
    let misspelt = BASE.replace("bootstrap = 50", "bootstrapp = 50");
    assert_eq!(error_key(&misspelt), "evaluation.bootstrapp");
    let misspelt = BASE.replace(
        "synthetic = { people = 400 }",
        "synthetic = { peple = 400 }",
    );
    assert_eq!(error_key(&misspelt), "data.synthetic.peple");
    let reasoner = format!(
        "{BASE}\n[[reasoner]]\nname = \"m\"\nmodel = \"x.gguf\"\nmode = \"score-label\"\nmodle = 1\n"
    );
    assert_eq!(error_key(&reasoner), "reasoner[0].modle");
    let kind = BASE.replace("kind = \"top-k\"", "kind = \"top-j\"");
    assert_eq!(error_key(&kind), "experiment[2].kind");
    let extra = BASE.replace(
        "kind = \"top-k\"",
        "kind = \"top-k\"\nreasoners = [\"baselines\"]",
    );
    assert_eq!(error_key(&extra), "experiment[2].reasoners");
}

#[test]
fn impossible_requests_are_errors_naming_the_key() {
    let k = |from: &str, to: &str| error_key(&BASE.replace(from, to));
    assert_eq!(k("top_k = 4", "top_k = 9"), "evaluation.top_k");
    assert_eq!(k("people = 12", "people = 0"), "evaluation.people");
    assert_eq!(k("people = 12", "people = 400"), "data.synthetic.people");
    assert_eq!(
        k("demonstrations = 100", "demonstrations = 300"),
        "evaluation.demonstrations"
    );
    assert_eq!(
        k(
            "synthetic = { people = 400 }",
            "synthetic = { people = 400 }\ncsv = \"a.csv\""
        ),
        "data"
    );
    assert_eq!(k("synthetic = { people = 400 }", ""), "data");
    let unknown = BASE.replace(
        "reasoners = [\"baselines\"]\n\n[[experiment]]\nkind = \"top-k\"",
        "reasoners = [\"gpt\"]\n\n[[experiment]]\nkind = \"top-k\"",
    );
    assert_eq!(error_key(&unknown), "experiment[1].reasoners");
    let model = |extra: &str| {
        format!(
            "{BASE}\n[[reasoner]]\nname = \"m\"\nmodel = \"x.gguf\"\nmode = \"score-label\"\n{extra}\n"
        )
    };
    assert_eq!(error_key(&model("people = 13")), "reasoner[0].people");
    assert_eq!(error_key(&model("dtype = \"f8\"")), "reasoner[0].dtype");
    assert_eq!(error_key(&model("paper = \"GPT-5\"")), "reasoner[0].paper");
    // A wrong type or value is named by its line.
    assert!(error_key(&model("").replace("score-label", "score-everything")).starts_with("line "));
}

fn runner(text: &str, out: &std::path::Path) -> Runner {
    Runner::with_meta(
        Plan::parse(text, "test.toml").unwrap(),
        out,
        mini_catalog_dir(),
    )
    .unwrap()
}

fn keys(text: &str, out: &std::path::Path) -> Vec<String> {
    runner(text, out)
        .dry_run()
        .unwrap()
        .into_iter()
        .map(|j| j.key)
        .collect()
}

#[test]
fn content_keys_are_stable_and_change_with_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let base = keys(BASE, out);
    assert_eq!(base.len(), 2, "baselines on polar and refined tasks");
    assert_eq!(keys(BASE, out), base, "same plan, same keys");
    // Whitespace and key order do not matter.
    let reordered = BASE.replace("top_k = 4\nmax_k = 6", "max_k = 6\ntop_k = 4");
    assert_eq!(keys(&reordered, out), base);
    for (from, to) in [
        ("seed = 3", "seed = 4"),
        ("people = 12", "people = 13"),
        ("demonstrations = 100", "demonstrations = 150"),
        ("top_k = 4", "top_k = 5"),
        ("max_k = 6", "max_k = 7"),
        ("max_k = 6", "max_k = 6\nlearned = false"),
        (
            "synthetic = { people = 400 }",
            "synthetic = { people = 401 }",
        ),
    ] {
        let changed = keys(&BASE.replace(from, to), out);
        for (a, b) in base.iter().zip(&changed) {
            assert_ne!(a, b, "{from} -> {to} kept a key");
        }
    }
    // A model's key hashes its file: same bytes, same key; other bytes, another key.
    let model = dir.path().join("model.gguf");
    std::fs::write(&model, b"not really a model").unwrap();
    let with_model = format!(
        "{BASE}\n[[reasoner]]\nname = \"m\"\nmodel = \"{}\"\nmode = \"score-label\"\npeople = 2\n",
        model.display()
    )
    .replace(
        "reasoners = [\"baselines\"]\n\n[[experiment]]\nkind = \"top-k\"",
        "reasoners = [\"baselines\", \"m\"]\n\n[[experiment]]\nkind = \"top-k\"",
    );
    let first = runner(&with_model, out).dry_run().unwrap();
    let model_jobs: Vec<_> = first.iter().filter(|j| j.need.reasoner == "m").collect();
    assert_eq!(model_jobs.len(), 2);
    assert!(
        model_jobs
            .iter()
            .all(|j| j.status == JobStatus::Todo && j.tasks == 2 * 3)
    );
    assert!(
        model_jobs
            .iter()
            .all(|j| j.probes_left > 0 && j.tokens_left_estimate > 0)
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&model, b"another model entirely").unwrap();
    let second = runner(&with_model, out).dry_run().unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.need, b.need);
        if a.need.reasoner == "m" {
            assert_ne!(a.key, b.key, "the model file changed");
        } else {
            assert_eq!(a.key, b.key, "the baselines do not depend on the model");
        }
    }
}

#[test]
fn a_second_run_recomputes_nothing_and_writes_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = runner(BASE, &out);
    let mut started = 0;
    let files = first
        .run(&mut |e| {
            if let indievalue_experiments::Event::JobStarted(_) = e {
                started += 1;
            }
        })
        .unwrap();
    assert_eq!(started, 2);
    let report = std::fs::read_to_string(&files.report_md).unwrap();
    for label in [
        "## Table 1 / Table 6",
        "## Table 4 / Table 15 / Figure 2",
        "## Table 20",
        "## Table 2 / Table 16",
        "Bayes ceiling (exact)",
        "scaled to 12",
    ] {
        assert!(
            report.contains(label),
            "{label} missing from the report:\n{report}"
        );
    }
    for file in [
        "tables/table4.csv",
        "tables/table20.csv",
        "tables/table16.csv",
        "tables/table6.csv",
        "plots/figure2.png",
        "plots/figure2.svg",
        "plots/table20.png",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(
        runner(BASE, &out)
            .dry_run()
            .unwrap()
            .iter()
            .all(|j| j.status == JobStatus::Done)
    );
    let mut started = 0;
    let again = runner(BASE, &out)
        .run(&mut |e| {
            if let indievalue_experiments::Event::JobStarted(_) = e {
                started += 1;
            }
        })
        .unwrap();
    assert_eq!(started, 0, "nothing recomputed");
    assert_eq!(std::fs::read_to_string(&again.report_md).unwrap(), report);
}

const ABLATIONS: &str = r#"
[[experiment]]
kind = "demonstrations"
reasoners = ["baselines"]
counts = [50, 200]

[[experiment]]
kind = "demo-form"

[[experiment]]
kind = "category-demos"

[[experiment]]
kind = "demographics"

[[experiment]]
kind = "groups"
reasoner = "top4"
over = "global"
"#;

#[test]
fn the_ablations_write_their_sections_tables_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = format!("{BASE}{ABLATIONS}");
    let files = runner(&text, &out).run(&mut |_| {}).unwrap();
    let report = std::fs::read_to_string(&files.report_md).unwrap();
    for label in [
        "## Figure 5 / Figure 10",
        "## Table 14",
        "## Figure 8",
        "## Table 5",
        "## Figures 4, 9, 11-21",
    ] {
        assert!(report.contains(label), "{label} missing");
    }
    for file in [
        "tables/figure5.csv",
        "plots/figure5.png",
        "tables/table14.csv",
        "tables/table5.csv",
        "tables/groups.csv",
        "plots/groups/continent-accuracy.png",
        "plots/groups/continent-change.svg",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // One heatmap per baseline with predictions, 13 x 13 cells.
    let heatmaps: Vec<_> = std::fs::read_dir(out.join("tables"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("figure8_"))
        .collect();
    assert_eq!(heatmaps.len(), 3, "global, top 1, top 4");
    let csv = std::fs::read_to_string(heatmaps[0].path()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 13);
    assert!(
        csv.lines()
            .all(|l| l.split(',').count() == 1 + 13 || l.contains('"'))
    );
    // The demonstration counts were scaled (50 and 200 of 214 on a catalog leaving 26).
    assert!(report.contains("scaled to this catalog: 6, 24"), "{report}");
    // Rerun: nothing recomputed, same report.
    let mut started = 0;
    let again = runner(&text, &out)
        .run(&mut |e| {
            if let indievalue_experiments::Event::JobStarted(_) = e {
                started += 1;
            }
        })
        .unwrap();
    assert_eq!(started, 0);
    assert_eq!(std::fs::read_to_string(again.report_md).unwrap(), report);
}

#[test]
fn groups_names_outputs_with_people() {
    let with = |reasoner: &str| {
        format!(
            "{BASE}\n[[experiment]]\nkind = \"groups\"\nreasoner = \"{reasoner}\"\nover = \"global\"\n"
        )
    };
    assert!(Plan::parse(&with("top4"), "test.toml").is_ok());
    let err = |text: String| match indievalue_experiments::experiments_of(
        &Plan::parse(&text, "test.toml").unwrap(),
    ) {
        Err(Error::Plan { key, .. }) => key,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(err(with("random")), "experiment[4].reasoner");
    assert_eq!(err(with("top5")), "experiment[4].reasoner");
    let missing = format!("{BASE}\n[[experiment]]\nkind = \"groups\"\nreasoner = \"top4\"\n");
    assert_eq!(err(missing), "experiment[4].over");
    let counts = format!("{BASE}\n[[experiment]]\nkind = \"demonstrations\"\ncounts = [0, 50]\n");
    assert_eq!(error_key(&counts), "experiment[4].counts");
}
