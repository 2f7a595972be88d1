//! The client against a fault-injecting server of our own on loopback: each fault a real server
//! will not produce on demand (429 with Retry-After, 500, a dropped connection, a truncated
//! body or a stream cut mid-way, an answer slower than the timeout or a stream that falls
//! silent) is survived with the predictions of a clean run, no request answered twice and no
//! retry sent while its abandoned attempt's connection is open; refusals stop at once; budgets
//! stop cleanly and resume. (Generations stream; `streaming.rs` tests the streams' bounds.)

mod common;

use common::{FakeServer, Fault, tasks};
use indievalue_catalog::Catalog;
use indievalue_metrics::{Prediction, PredictionsFile};
use indievalue_probe::{GenerationSettings, ProbeRun, RunOutcome, ScoreTarget, TaskPredictor};
use indievalue_remote::{
    Client, ClientSettings, Endpoint, Error, RemoteGenerative, RemoteScoring,
    RemoteScoringSettings, ResponseCache,
};
use indievalue_testdata::mini_catalog_dir;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn settings() -> ClientSettings {
    ClientSettings {
        concurrency: 2,
        timeout: Duration::from_millis(700),
        max_attempts: 5,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_secs(2),
        ..ClientSettings::default()
    }
}

fn client(server: &FakeServer, cache: &Path, settings: ClientSettings) -> Client {
    let mut endpoint = Endpoint::new(&server.base_url, "fake-model");
    endpoint.api_key_env = "INDIEVALUE_REMOTE_TEST_KEY".into();
    Client::new(endpoint, settings, ResponseCache::new(cache))
}

/// Which predictor a run uses.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Label,
    Statement,
    Generate,
}

fn run(
    kind: Kind,
    client: &Client,
    catalog: &Catalog,
    out: &Path,
) -> Result<(RunOutcome, Vec<Prediction>), String> {
    let predictor: Box<dyn TaskPredictor> = match kind {
        Kind::Label => Box::new(
            RemoteScoring::new(client, catalog, RemoteScoringSettings::default(), None)
                .map_err(|e| e.to_string())?,
        ),
        Kind::Statement => Box::new(
            RemoteScoring::new(
                client,
                catalog,
                RemoteScoringSettings {
                    target: ScoreTarget::Statement,
                    ..RemoteScoringSettings::default()
                },
                Some(indievalue_llm::ChatTemplate::llama3_fallback()),
            )
            .map_err(|e| e.to_string())?,
        ),
        Kind::Generate => Box::new(RemoteGenerative::new(
            client,
            catalog,
            GenerationSettings {
                max_new_tokens: 64,
                ..GenerationSettings::default()
            },
        )),
    };
    let params = serde_json::json!({ "kind": format!("{kind:?}") });
    let probe = ProbeRun::with_predictor(predictor, catalog, out, 0, params);
    let outcome = probe
        .run(&tasks(catalog), None, &mut |_| {})
        .map_err(|e| e.to_string())?;
    let (_, predictions) =
        PredictionsFile::read(probe.predictions_path(), catalog).map_err(|e| e.to_string())?;
    Ok((outcome, predictions))
}

fn clean(kind: Kind, catalog: &Catalog) -> Vec<Prediction> {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::None);
    let c = client(&server, &dir.path().join("cache"), settings());
    let (_, predictions) = run(kind, &c, catalog, &dir.path().join("out")).unwrap();
    assert_eq!(predictions.len(), 12);
    assert_eq!(server.most_deliveries(), 1);
    predictions
}

/// Runs `kind` against each fault in turn: the predictions equal a clean run's, no request is
/// answered twice, and a rerun over the same cache sends nothing.
fn survives_every_fault(kind: Kind) {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let reference = clean(kind, &catalog);
    let faults = [
        Fault::RateLimited("1"),
        Fault::ServerError,
        Fault::Drop,
        Fault::Truncate,
        Fault::Slow(Duration::from_millis(1200)),
    ];
    for fault in faults {
        let dir = tempfile::tempdir().unwrap();
        let injected = fault.clone();
        // Every third request meets the fault (the capability probe among them).
        let server = FakeServer::start(move |n| {
            if n % 3 == 0 {
                injected.clone()
            } else {
                Fault::None
            }
        });
        let cache = dir.path().join("cache");
        let c = client(&server, &cache, settings());
        let (outcome, predictions) = run(kind, &c, &catalog, &dir.path().join("out"))
            .unwrap_or_else(|e| panic!("{kind:?} with {fault:?}: {e}"));
        assert_eq!(predictions, reference, "{kind:?} with {fault:?}");
        assert_eq!(outcome.ran, 4);
        assert!(
            c.usage().retries > 0,
            "{kind:?} with {fault:?}: no fault met"
        );
        assert_eq!(
            server.most_deliveries(),
            1,
            "{kind:?} with {fault:?}: a request answered twice"
        );
        // An abandoned attempt's connection is closed before its retry arrives.
        assert_eq!(
            server.twins(),
            0,
            "{kind:?} with {fault:?}: a retry beside its twin"
        );
        if let Kind::Generate = kind {
            assert!(
                server.state.streamed.load(Ordering::SeqCst) > 0,
                "generations are streamed"
            );
        }
        // The same run again sends nothing: every answer is in the cache.
        let before = server.received();
        let again = client(&server, &cache, settings());
        let (_, predictions2) = run(kind, &again, &catalog, &dir.path().join("out2")).unwrap();
        assert_eq!(predictions2, reference);
        assert_eq!(
            server.received(),
            before,
            "{kind:?}: the rerun sent requests"
        );
        assert_eq!(again.usage().requests, 0);
        assert!(again.usage().cache_hits > 0);
    }
}

#[test]
fn label_scoring_survives_every_fault() {
    survives_every_fault(Kind::Label);
}

#[test]
fn generative_probing_survives_every_fault() {
    survives_every_fault(Kind::Generate);
}

#[test]
fn statement_scoring_survives_every_fault() {
    survives_every_fault(Kind::Statement);
}

#[test]
fn refusals_stop_the_run_at_once() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    for (status, concurrency) in [(401, 1), (403, 1), (404, 1), (401, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let server = FakeServer::start(move |_| Fault::Status(status));
        let one = ClientSettings {
            concurrency,
            ..settings()
        };
        let c = client(&server, &dir.path().join("cache"), one);
        let err = run(Kind::Generate, &c, &catalog, &dir.path().join("out")).unwrap_err();
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        // Nothing is retried and nothing new starts after the refusal: at most the requests
        // already in flight.
        assert!(
            server.received() <= concurrency,
            "HTTP {status}: {} requests",
            server.received()
        );
    }
    // A 404 at the capability probe stops label scoring before any task's request.
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::Status(404));
    let c = client(&server, &dir.path().join("cache"), settings());
    let err = RemoteScoring::new(&c, &catalog, RemoteScoringSettings::default(), None).err();
    assert!(
        matches!(err, Some(Error::Refused { status: 404, .. })),
        "{err:?}"
    );
    assert_eq!(server.received(), 1);
}

#[test]
fn budgets_stop_cleanly_and_a_rerun_continues_to_the_clean_result() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let reference = clean(Kind::Label, &catalog);
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::None);
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    // 1 capability probe + 3 probes per task: a budget of 5 finishes one task.
    let budget = ClientSettings {
        max_requests: Some(5),
        concurrency: 1,
        ..settings()
    };
    let c = client(&server, &cache, budget);
    let (outcome, partial) = run(Kind::Label, &c, &catalog, &out).unwrap();
    assert!(
        outcome
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("5 requests")),
        "{outcome:?}"
    );
    assert_eq!(outcome.ran, 1);
    assert_eq!(partial, reference[..3].to_vec());
    assert_eq!(c.usage().requests, 5);
    // A token budget stops too.
    let tokens = ClientSettings {
        max_tokens_total: Some(1),
        ..settings()
    };
    let other = FakeServer::start(|_| Fault::None);
    let t = client(&other, &dir.path().join("other-cache"), tokens);
    let (stopped, _) = run(Kind::Label, &t, &catalog, &dir.path().join("other")).unwrap();
    assert!(stopped.stopped.is_some_and(|s| s.contains("tokens")));
    // Without the budget the rerun finishes with the clean predictions, asking nothing twice.
    let c = client(&server, &cache, settings());
    let (outcome, predictions) = run(Kind::Label, &c, &catalog, &out).unwrap();
    assert_eq!(outcome.resumed, 1);
    assert_eq!(predictions, reference);
    assert_eq!(server.most_deliveries(), 1);
}
