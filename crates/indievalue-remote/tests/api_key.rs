//! The API key is sent in the `Authorization` header and appears in no file a run writes (the
//! predictions, records, cache), nor in the client's `Debug`.

mod common;

use common::{FakeServer, Fault, files_under, tasks};
use indievalue_catalog::Catalog;
use indievalue_probe::{GenerationSettings, ProbeRun};
use indievalue_remote::{
    Client, ClientSettings, Endpoint, RemoteGenerative, RemoteScoring, RemoteScoringSettings,
    ResponseCache,
};
use indievalue_testdata::mini_catalog_dir;

const VAR: &str = "INDIEVALUE_REMOTE_TEST_KEY";
const KEY: &str = "sk-test-4f1c9e0a7b2d";

#[test]
fn the_api_key_is_sent_but_never_written() {
    // The workspace forbids unsafe code (`std::env::set_var`): this test runs itself again in a
    // child process with the variable set.
    if std::env::var(VAR).ok().as_deref() != Some(KEY) {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["the_api_key_is_sent_but_never_written", "--exact"])
            .env(VAR, KEY)
            .status()
            .unwrap();
        assert!(status.success(), "the test with the key set failed");
        return;
    }
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = FakeServer::start(|_| Fault::None);
    let mut endpoint = Endpoint::new(&server.base_url, "fake-model");
    endpoint.api_key_env = VAR.into();
    let cache = ResponseCache::new(dir.path().join("cache"));
    let client = Client::new(endpoint, ClientSettings::default(), cache);
    assert!(!format!("{client:?}").contains(KEY));
    let tasks = tasks(&catalog);
    let generative = RemoteGenerative::new(&client, &catalog, GenerationSettings::default());
    let params = serde_json::json!({ "endpoint": client.endpoint() });
    ProbeRun::with_predictor(
        Box::new(generative),
        &catalog,
        dir.path().join("gen"),
        0,
        params.clone(),
    )
    .run(&tasks, None, &mut |_| {})
    .unwrap();
    let scoring =
        RemoteScoring::new(&client, &catalog, RemoteScoringSettings::default(), None).unwrap();
    ProbeRun::with_predictor(
        Box::new(scoring),
        &catalog,
        dir.path().join("label"),
        0,
        params,
    )
    .run(&tasks, None, &mut |_| {})
    .unwrap();
    let sent = server.state.authorizations.lock().unwrap().clone();
    assert!(sent.len() > 5);
    assert!(sent.iter().all(|a| a == &format!("Bearer {KEY}")));
    let files = files_under(dir.path());
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} contains the API key",
            file.display()
        );
    }
}
