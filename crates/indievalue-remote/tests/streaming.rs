//! Streamed generations against the fault-injecting server: a stream that falls silent past
//! the silence timeout is retried on a new connection only once the abandoned one is closed; a
//! stream that keeps coming for longer than the silence timeout is not cut; a stream cut
//! mid-way is retried and only a whole answer is cached; the whole-request timeout ends a
//! stream that never ends, without a retry; a server that refuses streaming gets plain requests
//! and the very same cached bytes. The timeouts are small (well under a second) so these run in
//! a few seconds: what is tested is which bound applies, not how long it is.

mod common;

use common::{FakeServer, Fault, files_under, tasks};
use indievalue_catalog::Catalog;
use indievalue_probe::{GenerationSettings, ProbeRun};
use indievalue_remote::{
    Client, ClientSettings, Endpoint, Error, RemoteGenerative, ResponseCache, Streaming,
    response::token_usage,
};
use indievalue_testdata::mini_catalog_dir;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Silence timeout 0.6 s; whole-request timeout 60 s.
fn settings() -> ClientSettings {
    ClientSettings {
        concurrency: 1,
        timeout: Duration::from_millis(600),
        request_timeout: Duration::from_secs(60),
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..ClientSettings::default()
    }
}

fn client(server: &FakeServer, cache: &Path, settings: ClientSettings) -> Client {
    let mut endpoint = Endpoint::new(&server.base_url, "fake-model");
    endpoint.api_key_env = "INDIEVALUE_REMOTE_TEST_KEY".into();
    Client::new(endpoint, settings, ResponseCache::new(cache))
}

/// A generation request naming two groups, so the fake model's answer has some length.
fn body() -> Value {
    json!({
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Choose one statement of (NSG1) and of (NSG2)."}],
        "max_tokens": 64,
        "temperature": 0.0,
    })
}

/// The answer a clean streaming server gives for `body()`.
fn clean_answer() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::None);
    let c = client(&server, dir.path(), settings());
    let answer = c.chat_streamed(&body()).unwrap();
    assert_eq!(c.streaming().unwrap(), Streaming::WithUsage);
    assert!(server.state.streamed.load(Ordering::SeqCst) >= 2);
    answer
}

/// The request's cache entry (what a replay returns), if any.
fn cached(c: &Client) -> Option<Value> {
    let url = c.endpoint().url("chat/completions");
    c.cache().get(&ResponseCache::key(&url, &body()), &url)
}

#[test]
fn a_stream_silent_past_the_timeout_is_retried_once_its_connection_is_closed() {
    let reference = clean_answer();
    let dir = tempfile::tempdir().unwrap();
    // Request 0 is the capability probe; request 1 stalls after its first piece (for up to
    // 5 s, far past the 0.6 s silence timeout, unless the client closes the connection).
    let server = FakeServer::start(|n| match n {
        1 => Fault::Slow(Duration::from_secs(5)),
        _ => Fault::None,
    });
    let c = client(&server, dir.path(), settings());
    let answer = c.chat_streamed(&body()).unwrap();
    assert_eq!(answer, reference);
    assert_eq!(server.received(), 3);
    assert_eq!(c.usage().retries, 1);
    // The retry never ran beside the stalled attempt: by the time it arrived, the stalled
    // attempt's connection was closed (the server peeks at it), and it came on a connection of
    // its own.
    assert_eq!(server.twins(), 0);
    assert_eq!(server.state.connections.load(Ordering::SeqCst), 3);
    assert_eq!(server.state.abandoned.load(Ordering::SeqCst), 1);
    assert_eq!(server.most_deliveries(), 1);
    assert_eq!(cached(&c), Some(reference));
}

#[test]
fn a_stream_longer_than_the_silence_timeout_is_not_cut() {
    let reference = clean_answer();
    let dir = tempfile::tempdir().unwrap();
    // Twelve pieces 0.15 s apart (plus the role, finish and usage chunks): about 2.3 s in all,
    // almost four times the 0.6 s silence timeout, which each gap stays well inside.
    let server = FakeServer::start(|n| match n {
        1 => Fault::Trickle {
            every: Duration::from_millis(150),
            pieces: 12,
        },
        _ => Fault::None,
    });
    let c = client(&server, dir.path(), settings());
    let started = Instant::now();
    let answer = c.chat_streamed(&body()).unwrap();
    assert!(started.elapsed() > settings().timeout * 3);
    assert_eq!(answer, reference);
    assert_eq!(server.received(), 2);
    assert_eq!(c.usage().retries, 0);
}

#[test]
fn a_stream_cut_midway_is_retried_and_cached_only_whole() {
    let reference = clean_answer();
    let (_, completion) = token_usage(&reference);
    // Cut once: retried, and the whole answer cached.
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|n| match n {
        1 => Fault::Truncate,
        _ => Fault::None,
    });
    let c = client(&server, dir.path(), settings());
    assert_eq!(c.chat_streamed(&body()).unwrap(), reference);
    assert_eq!(c.usage().retries, 1);
    assert_eq!(server.twins(), 0);
    assert_eq!(cached(&c), Some(reference.clone()));
    // Tokens counted once, from the whole answer's usage chunk: the probe's answer and this
    // one (the fake model reports the same completion length for every answer).
    assert_eq!(c.usage().requests, 2);
    assert_eq!(c.usage().completion_tokens, 2 * completion as u64);
    // Cut every time: nothing cached, and the error says what happened.
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|n| match n {
        0 => Fault::None,
        _ => Fault::Truncate,
    });
    let c = client(&server, dir.path(), settings());
    let err = c.chat_streamed(&body()).unwrap_err();
    assert!(
        matches!(&err, Error::GaveUp { attempts: 3, last, .. } if last.contains("the stream")),
        "{err}"
    );
    assert_eq!(cached(&c), None);
    // The cache holds the capability probe's answer and finding, and nothing else.
    assert_eq!(files_under(dir.path()).len(), 2);
}

#[test]
fn the_whole_request_timeout_ends_an_endless_stream_without_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    // Pieces every 0.1 s for about 3 s: never silent, but longer than the 0.5 s whole-request
    // timeout.
    let server = FakeServer::start(|n| match n {
        1 => Fault::Trickle {
            every: Duration::from_millis(100),
            pieces: 30,
        },
        _ => Fault::None,
    });
    let whole = ClientSettings {
        request_timeout: Duration::from_millis(500),
        ..settings()
    };
    let c = client(&server, dir.path(), whole);
    let err = c.chat_streamed(&body()).unwrap_err();
    assert!(matches!(err, Error::RequestTimeout { .. }), "{err}");
    assert_eq!(server.received(), 2);
    assert_eq!(cached(&c), None);
    // The server sees the connection close at its next write (within 0.1 s).
    let waiting = Instant::now();
    while server.state.abandoned.load(Ordering::SeqCst) == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the connection stayed open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A generative run of the four test tasks: the files it writes, by name.
fn generative_run(c: &Client, catalog: &Catalog, out: &Path) -> Vec<(String, Vec<u8>)> {
    let generative = RemoteGenerative::new(
        c,
        catalog,
        GenerationSettings {
            max_new_tokens: 64,
            ..GenerationSettings::default()
        },
    );
    let params = json!({ "test": "streaming" });
    let run = ProbeRun::with_predictor(Box::new(generative), catalog, out, 0, params);
    let outcome = run.run(&tasks(catalog), None, &mut |_| {}).unwrap();
    assert_eq!(outcome.ran, 4);
    ["predictions.jsonl", "generations.jsonl"]
        .iter()
        .map(|name| (name.to_string(), std::fs::read(out.join(name)).unwrap()))
        .collect()
}

/// The cache's entries for requests (the capability finding left out), by file name.
fn cache_entries(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<(String, Vec<u8>)> = files_under(dir)
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).unwrap())
        })
        .filter(|(_, bytes)| !String::from_utf8_lossy(bytes).contains("\"streaming\""))
        .collect();
    entries.sort();
    entries
}

#[test]
fn a_server_that_refuses_streaming_gets_plain_requests_and_the_same_cached_bytes() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let concurrent = ClientSettings {
        concurrency: 2,
        ..settings()
    };
    // Streamed, with usage.
    let server = FakeServer::start(|_| Fault::None);
    let s = client(&server, &dir.path().join("s-cache"), concurrent.clone());
    let streamed = generative_run(&s, &catalog, &dir.path().join("s"));
    assert_eq!(s.streaming().unwrap(), Streaming::WithUsage);
    let bodies = server.state.bodies.lock().unwrap().clone();
    assert!(bodies.iter().all(
        |b| b["stream"] == json!(true) && b["stream_options"] == json!({"include_usage": true})
    ));
    assert_eq!(server.state.streamed.load(Ordering::SeqCst), bodies.len());
    assert!(s.usage().completion_tokens > 0);
    // The same server (the same URL, so the same cache keys) now refusing streaming: found by
    // the probe (two streamed trials and a plain one), then plain requests.
    server.state.refuse_stream.store(true, Ordering::SeqCst);
    let streamed_answers = server.state.streamed.load(Ordering::SeqCst);
    let p = client(&server, &dir.path().join("p-cache"), concurrent.clone());
    let unstreamed = generative_run(&p, &catalog, &dir.path().join("p"));
    assert_eq!(p.streaming().unwrap(), Streaming::Plain);
    assert_eq!(
        server.state.streamed.load(Ordering::SeqCst),
        streamed_answers
    );
    assert_eq!(
        server.received(),
        2 * bodies.len() + 2,
        "the probe tries streaming twice, then plain"
    );
    // Same predictions and records, same tokens, and the same files with the same bytes in
    // both caches.
    assert_eq!(streamed, unstreamed);
    assert_eq!(s.usage().completion_tokens, p.usage().completion_tokens);
    let entries = cache_entries(&dir.path().join("s-cache"));
    assert!(entries.len() >= 5);
    assert_eq!(entries, cache_entries(&dir.path().join("p-cache")));
    // A new client over the same cache knows the finding without asking.
    let before = server.received();
    let again = client(&server, &dir.path().join("p-cache"), concurrent.clone());
    assert_eq!(again.streaming().unwrap(), Streaming::Plain);
    assert_eq!(server.received(), before);
    // Only stream_options refused: streamed without it.
    let no_options = FakeServer::start_with(
        |_| Fault::None,
        |state| state.refuse_stream_options.store(true, Ordering::SeqCst),
    );
    let o = client(&no_options, &dir.path().join("o-cache"), concurrent);
    let without = generative_run(&o, &catalog, &dir.path().join("o"));
    assert_eq!(o.streaming().unwrap(), Streaming::WithoutUsage);
    assert_eq!(without[0], streamed[0], "the predictions");
    assert!(no_options.state.streamed.load(Ordering::SeqCst) > 4);
}

/// The fake server's twin detector does see a request arriving beside an open twin (so the
/// tests' `twins() == 0` can fail).
#[test]
fn the_twin_detector_sees_a_twin() {
    let server = FakeServer::start(|n| match n {
        0 => Fault::Slow(Duration::from_secs(3)),
        _ => Fault::None,
    });
    let address = server
        .base_url
        .trim_start_matches("http://")
        .replace("/v1", "");
    let request = |body: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let text = body().to_string();
    let mut first = std::net::TcpStream::connect(&address).unwrap();
    first.write_all(request(&text).as_bytes()).unwrap();
    // Wait until the server has the first request, then send its twin on another connection.
    while server.received() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut second = std::net::TcpStream::connect(&address).unwrap();
    second.write_all(request(&text).as_bytes()).unwrap();
    let mut head = [0u8; 12];
    second.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_eq!(server.twins(), 1);
    drop(first);
    // Once the first is closed, a third copy is no twin of it (the second is answered).
    let mut third = std::net::TcpStream::connect(&address).unwrap();
    third.write_all(request(&text).as_bytes()).unwrap();
    third.read_exact(&mut head).unwrap();
    assert_eq!(server.twins(), 1);
}
