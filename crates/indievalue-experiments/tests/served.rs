//! A plan with served reasoners (OpenAI-compatible endpoints): keys that ignore budgets,
//! concurrency and the cache's place; a run against the fake server of `indievalue-testdata`
//! that a budget stops cleanly, a rerun finishes, and a third run answers from the cache.

use indievalue_experiments::{Error, Plan, Runner};
use indievalue_testdata::fake_openai::{FakeServer, Fault};
use indievalue_testdata::mini_catalog_dir;

fn plan(base_url: &str, cache: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
name = "served"
seed = 5

[data]
synthetic = {{ people = 300 }}

[evaluation]
people = 3
demonstrations = 20
bootstrap = 20
top_k = 4
max_k = 6

[[reasoner]]
name = "served-label"
model = "fake-model"
mode = "score-label"
base_url = "{base_url}"
cache = "{cache}"
api_key_env = "INDIEVALUE_SERVED_TEST_KEY"
{extra}

[[reasoner]]
name = "served-generate"
model = "fake-model"
mode = "generate"
base_url = "{base_url}"
cache = "{cache}"
people = 1

[[experiment]]
kind = "accuracy"
reasoners = ["baselines", "served-label", "served-generate"]
"#,
        cache = cache.display()
    )
}

fn runner(text: &str, out: &std::path::Path) -> Runner {
    Runner::with_meta(
        Plan::parse(text, "served.toml").unwrap(),
        out,
        mini_catalog_dir(),
    )
    .unwrap()
}

#[test]
fn served_reasoners_run_stop_at_a_budget_resume_and_replay_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::None);
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    // Budgets, concurrency and the cache's place do not change what is asked: same keys.
    let keys = |text: &str| -> Vec<String> {
        runner(text, &out)
            .dry_run()
            .unwrap()
            .into_iter()
            .map(|j| j.key)
            .collect()
    };
    let budgeted = plan(
        &server.base_url,
        &cache,
        "max_requests = 10\nconcurrency = 2",
    );
    assert_eq!(keys(&plan(&server.base_url, &cache, "")), keys(&budgeted));
    let other_cache = plan(&server.base_url, &dir.path().join("elsewhere"), "");
    assert_eq!(
        keys(&plan(&server.base_url, &cache, "")),
        keys(&other_cache)
    );
    assert_ne!(
        keys(&plan(&server.base_url, &cache, "")),
        keys(&plan(&server.base_url, &cache, "top_logprobs = 5"))
    );

    // A budget of 10 requests stops the run cleanly, naming the reasoner.
    let err = runner(&budgeted, &out).run(&mut |_| {}).unwrap_err();
    assert!(
        matches!(&err, Error::Stopped(why) if why.contains("served-label")),
        "{err}"
    );
    // The generative reasoner (no budget; its streaming capability probe, then 1 person x 3
    // setups, each answered at the first attempt) and the label reasoner's 10.
    assert_eq!(server.received(), 1 + 3 + 10);
    assert!(!out.join("REPORT.md").exists());

    // The rerun without the budget finishes; nothing is asked twice.
    let full = plan(&server.base_url, &cache, "");
    let files = runner(&full, &out).run(&mut |_| {}).unwrap();
    let report = std::fs::read_to_string(&files.report_md).unwrap();
    assert!(report.contains("served-label"), "{report}");
    assert!(report.contains("served-generate"), "{report}");
    assert_eq!(server.most_deliveries(), 1);
    let table = std::fs::read_to_string(out.join("tables/table4.csv")).unwrap();
    assert!(table.contains("served-label"), "{table}");

    // A new output directory over the same requests: all from the cache.
    let before = server.received();
    let again = dir.path().join("again");
    let files2 = runner(&full, &again).run(&mut |_| {}).unwrap();
    assert_eq!(server.received(), before);
    assert_eq!(std::fs::read_to_string(&files2.report_md).unwrap(), report);
}

#[test]
fn served_reasoner_keys_are_checked() {
    let check = |extra: &str, local: bool| -> String {
        let mut text = plan("http://127.0.0.1:9/v1", std::path::Path::new("c"), extra);
        if local {
            text = text.replacen("base_url = \"http://127.0.0.1:9/v1\"\n", "", 1);
        }
        match Plan::parse(&text, "served.toml") {
            Err(Error::Plan { key, .. }) => key,
            other => panic!("{extra}: {other:?}"),
        }
    };
    assert_eq!(
        check("prefill = \"sometimes\"", false),
        "reasoner[0].prefill"
    );
    assert_eq!(check("concurrency = 0", false), "reasoner[0].concurrency");
    assert_eq!(check("adapter = \"a\"", false), "reasoner[0].adapter");
    // Served-model keys on a local model are errors: the first one set is named.
    assert_eq!(check("", true), "reasoner[0].api_key_env");
}
