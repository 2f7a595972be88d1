//! Against the real files `scripts/fetch_models.sh` fetches (CI runs it first): the Llama 3
//! tokenizer against Python `tokenizers`, the SmolLM2 GGUF metadata, and chat templates against
//! Python jinja2 (fixtures made by `scripts/make_llm_fixtures.py`).

use indievalue_llm::{ChatMessage, ChatTemplate, Error, GgufMetadata, TextTokenizer};
use indievalue_testdata::model_cache_dir;
use std::path::PathBuf;

fn cached(relative: &str) -> PathBuf {
    let path = model_cache_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh first (CI does)",
        path.display()
    );
    path
}

fn fixture(name: &str) -> serde_json::Value {
    let path = indievalue_testdata::fixtures_dir().join("llm").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn llama3_tokenizer_matches_python_tokenizers() {
    let tokenizer = TextTokenizer::from_file(cached("llama3/tokenizer.json")).unwrap();
    // 128,000 BPE tokens and 256 reserved/special ones, plus `<|image|>` (128256) in this
    // Llama 3.2 file; Python `tokenizers` counts the same 128,257.
    assert_eq!(tokenizer.vocab_size(), 128_257);
    assert_eq!(tokenizer.token_id("<|image|>"), Some(128_256));
    assert_eq!(tokenizer.token_id("<|begin_of_text|>"), Some(128_000));
    let f = fixture("llama3_tokenizer.json");
    let strings = f["strings"].as_array().unwrap();
    let ids = f["ids"].as_array().unwrap();
    assert_eq!(strings.len(), ids.len());
    assert!(
        strings.iter().any(|s| s.as_str().unwrap().len() > 3000),
        "a long prompt"
    );
    for (s, expected) in strings.iter().zip(ids) {
        let s = s.as_str().unwrap();
        let expected: Vec<u32> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tokenizer.encode(s).unwrap();
        assert_eq!(got, expected, "ids of {:?}", &s[..s.len().min(60)]);
        assert_eq!(tokenizer.decode(&got).unwrap(), s);
    }
}

#[test]
fn smollm2_gguf_metadata() {
    let meta = GgufMetadata::read(cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    assert_eq!(meta.version, 3);
    assert_eq!(meta.tensor_count, 272);
    assert_eq!(meta.get_str("general.architecture"), Some("llama"));
    assert_eq!(meta.get_u64("llama.block_count"), Some(30));
    assert_eq!(meta.get_u64("llama.embedding_length"), Some(576));
    assert_eq!(meta.get_u64("llama.attention.head_count"), Some(9));
    assert_eq!(meta.get_u64("llama.attention.head_count_kv"), Some(3));
    assert_eq!(meta.get_str("tokenizer.ggml.model"), Some("gpt2"));
    let tokens = meta
        .get("tokenizer.ggml.tokens")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(tokens.len(), 49_152);
    assert_eq!(tokens[1].as_str(), Some("<|im_start|>"));
    let theta = meta.get("llama.rope.freq_base").unwrap().as_f64().unwrap();
    assert_eq!(theta, 100_000.0);
    assert!(meta.chat_template().unwrap().contains("<|im_start|>"));
}

#[test]
fn truncated_and_foreign_files_are_typed_errors() {
    let gguf = std::fs::read(cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &gguf[..5000]).unwrap();
    match GgufMetadata::read(&cut) {
        Err(Error::Gguf {
            offset, message, ..
        }) => {
            assert!(message.contains("truncated"), "{message}");
            assert!(offset > 0 && offset <= 5000);
        }
        other => panic!("expected a GGUF error, got {other:?}"),
    }
    let json = dir.path().join("x.gguf");
    std::fs::write(&json, b"{\"not\": \"gguf\"}").unwrap();
    let err = GgufMetadata::read(&json).unwrap_err();
    assert!(err.to_string().contains("not a GGUF file") && err.to_string().contains("x.gguf"));
    assert!(matches!(
        GgufMetadata::read(dir.path().join("none.gguf")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        TextTokenizer::from_file(dir.path().join("tokenizer.json")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn smollm2_chat_template_renders_like_jinja2() {
    let meta = GgufMetadata::read(cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let template =
        ChatTemplate::new(meta.chat_template().unwrap(), "<|im_start|>", "<|im_end|>").unwrap();
    let f = fixture("smollm2_chat.json");
    for case in f["cases"].as_array().unwrap() {
        let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone()).unwrap();
        let rendered = template
            .render(&messages, case["add_generation_prompt"].as_bool().unwrap())
            .unwrap();
        assert_eq!(rendered, case["rendered"].as_str().unwrap());
    }
}

#[test]
fn multiline_template_with_trim_lstrip_and_loop_controls_renders_like_jinja2() {
    let f = fixture("multiline_chat.json");
    let template = ChatTemplate::new(
        f["template"].as_str().unwrap(),
        f["bos_token"].as_str().unwrap(),
        f["eos_token"].as_str().unwrap(),
    )
    .unwrap();
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let messages: Vec<ChatMessage> = serde_json::from_value(case["messages"].clone()).unwrap();
        let rendered = template
            .render(&messages, case["add_generation_prompt"].as_bool().unwrap())
            .unwrap();
        assert_eq!(rendered, case["rendered"].as_str().unwrap());
    }
}

#[test]
fn llama3_fallback_header_format_by_hand() {
    let t = ChatTemplate::llama3_fallback();
    let text = t
        .render(
            &[
                ChatMessage::system("Be brief."),
                ChatMessage::user("Which option?"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        text,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
         <|start_header_id|>user<|end_header_id|>\n\nWhich option?<|eot_id|>\
         <|start_header_id|>assistant<|end_header_id|>\n\n"
    );
    // A template that raises is an error, not a panic.
    let raising = ChatTemplate::new("{{ raise_exception('no system role') }}", "", "").unwrap();
    assert!(raising.render(&[], false).is_err());
    assert!(ChatTemplate::new("{% for %}", "", "").is_err());
}
