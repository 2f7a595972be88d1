//! End to end against a real server on loopback: llama.cpp's own HTTP server (the `xllamacpp`
//! wheel, installed by `scripts/fetch_llama_server.sh`) serving SmolLM2-135M. A few synthetic
//! people are probed generatively and by top-logprob label scoring; the predictions are valid;
//! the same runs repeated with the server stopped finish from the cache (zero requests); the
//! server's missing prompt log-probabilities are detected before any task's request.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_metrics::PredictionsFile;
use indievalue_probe::{GenerationSettings, ProbeRun, ScoreTarget, TaskPredictor};
use indievalue_remote::{
    Client, ClientSettings, Endpoint, Error, LabelReading, RemoteGenerative, RemoteScoring,
    RemoteScoringSettings, ResponseCache,
};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, ProbeTask, TaskSpec,
    build_probe_tasks, select_evaluation_set,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::{mini_catalog_dir, repo_root, smollm2_gguf};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// llama.cpp's server in a child process, stopped (by the id we started) when dropped.
struct LlamaServer {
    child: Child,
    base_url: String,
}

impl LlamaServer {
    fn start() -> LlamaServer {
        let env = std::env::var_os("INDIEVALUE_LLAMA_SERVER_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".cache/llama-server"));
        let python = env.join("bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/fetch_llama_server.sh (CI does)",
            python.display()
        );
        let gguf = smollm2_gguf();
        assert!(
            gguf.exists(),
            "{} is missing: run scripts/fetch_models.sh",
            gguf.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(python)
            .arg(repo_root().join("scripts/serve_llamacpp.py"))
            .arg(&gguf)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = LlamaServer {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        let started = Instant::now();
        while ureq::get(&health).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two held-out synthetic people, setup 1, eight polar demonstrations, their first six probes.
fn tasks(catalog: &Catalog) -> Vec<ProbeTask> {
    let config = SynthConfig {
        people: 300,
        seed: 3,
        ..SynthConfig::default()
    };
    let people = SyntheticModel::new(catalog, &config)
        .unwrap()
        .respondents(catalog)
        .unwrap();
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(catalog);
    let mut criteria = EvalCriteria::scaled(catalog);
    criteria.people = 2;
    let eval = select_evaluation_set(catalog, &people, &answers, &setups, &criteria, 3).unwrap();
    let rows: Vec<usize> = eval.rows.iter().copied().take(2).collect();
    let spec = TaskSpec {
        setups: &setups[..1],
        demos: DemoSpec {
            mode: DemoMode::Fixed(8),
            granularity: Granularity::Polar,
            demographics: false,
        },
        probe_granularity: Granularity::Polar,
        seed: 3,
    };
    let mut tasks = build_probe_tasks(catalog, &people, &answers, &rows, &spec);
    for t in &mut tasks {
        t.probes.truncate(6);
    }
    assert_eq!(tasks.len(), 2);
    tasks
}

fn client(base_url: &str, cache: &Path) -> Client {
    let settings = ClientSettings {
        concurrency: 2,
        timeout: Duration::from_secs(120),
        max_attempts: 3,
        backoff_base: Duration::from_millis(50),
        ..ClientSettings::default()
    };
    Client::new(
        Endpoint::new(base_url, "smollm2"),
        settings,
        ResponseCache::new(cache),
    )
}

fn run(predictor: Box<dyn TaskPredictor + '_>, catalog: &Catalog, out: &Path, tasks: &[ProbeTask]) {
    let params =
        serde_json::json!({ "test": out.file_name().map(|n| n.to_string_lossy().into_owned()) });
    let run = ProbeRun::with_predictor(predictor, catalog, out, 0, params);
    let outcome = run.run(tasks, None, &mut |_| {}).unwrap();
    assert_eq!(outcome.ran, tasks.len());
}

#[test]
fn smollm2_on_llama_cpp_server_generatively_and_by_label_logprobs_then_from_the_cache() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let tasks = tasks(&catalog);
    let probes: usize = tasks.iter().map(|t| t.probes.len()).sum();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = LlamaServer::start();
    let c = client(&server.base_url, &cache);
    let generation = GenerationSettings {
        max_new_tokens: 200,
        retries: 0,
        ..GenerationSettings::default()
    };

    // Generative probing with the B.1 prompt.
    let generative = RemoteGenerative::new(&c, &catalog, generation.clone());
    run(
        Box::new(generative),
        &catalog,
        &dir.path().join("gen"),
        &tasks,
    );
    let (_, generated) =
        PredictionsFile::read(dir.path().join("gen/predictions.jsonl"), &catalog).unwrap();
    assert_eq!(generated.len(), probes);
    for (p, probe) in generated.iter().zip(tasks.iter().flat_map(|t| &t.probes)) {
        assert!(p.predicted.is_none_or(|k| k < probe.options), "{p:?}");
    }
    let records = std::fs::read_to_string(dir.path().join("gen/generations.jsonl")).unwrap();
    assert!(records.contains("\"answer\":\""), "{records}");
    let sent_generating = c.usage().requests;
    assert!(sent_generating >= 2);

    // Label scoring from top_logprobs (one capability probe first).
    let scoring = RemoteScoring::new(&c, &catalog, RemoteScoringSettings::default(), None).unwrap();
    run(
        Box::new(scoring),
        &catalog,
        &dir.path().join("label"),
        &tasks,
    );
    let (_, scored) =
        PredictionsFile::read(dir.path().join("label/predictions.jsonl"), &catalog).unwrap();
    assert_eq!(scored.len(), probes);
    for (p, probe) in scored.iter().zip(tasks.iter().flat_map(|t| &t.probes)) {
        let probs = p.probabilities.as_ref().unwrap();
        assert_eq!(probs.len(), usize::from(probe.options));
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{probs:?}");
    }
    let readings: Vec<LabelReading> =
        std::fs::read_to_string(dir.path().join("label/scores.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"probes\""))
            .flat_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                serde_json::from_value::<Vec<LabelReading>>(v["probes"].clone()).unwrap()
            })
            .collect();
    assert_eq!(readings.len(), probes);
    // llama.cpp continues the prefilled "Option": the label is read there, and both labels are
    // in its list.
    assert!(
        readings
            .iter()
            .all(|r| r.position.is_some() && !r.after_generated_option),
        "{readings:?}"
    );
    assert!(readings.iter().filter(|r| r.absent.is_empty()).count() * 2 > probes);
    assert_eq!(c.usage().requests, sent_generating + 1 + probes as u64);

    // The server cannot score prompts: found by one request, before any task's.
    let before = c.usage().requests;
    let statement = RemoteScoringSettings {
        target: ScoreTarget::Statement,
        ..RemoteScoringSettings::default()
    };
    let template = indievalue_llm::ChatTemplate::llama3_fallback();
    let err = RemoteScoring::new(&c, &catalog, statement, Some(template)).err();
    assert!(
        matches!(&err, Some(Error::Unsupported { what, .. }) if what.contains("does not score prompts")),
        "{err:?}"
    );
    assert_eq!(c.usage().requests, before + 1);

    // The same runs again, with the server stopped: everything comes from the cache.
    drop(server);
    let replay = client(&c.endpoint().base_url, &cache);
    let generative = RemoteGenerative::new(&replay, &catalog, generation);
    run(
        Box::new(generative),
        &catalog,
        &dir.path().join("gen-again"),
        &tasks,
    );
    let scoring =
        RemoteScoring::new(&replay, &catalog, RemoteScoringSettings::default(), None).unwrap();
    run(
        Box::new(scoring),
        &catalog,
        &dir.path().join("label-again"),
        &tasks,
    );
    assert_eq!(replay.usage().requests, 0);
    assert!(replay.usage().cache_hits > probes as u64);
    for name in ["gen", "label"] {
        let read = |d: &str| {
            PredictionsFile::read(dir.path().join(d).join("predictions.jsonl"), &catalog)
                .unwrap()
                .1
        };
        assert_eq!(read(name), read(&format!("{name}-again")), "{name}");
    }
}
