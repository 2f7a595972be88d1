//! Loading paths beyond the single-file directory: sharded safetensors, the Hugging Face hub
//! cache, and every failure as a typed error that names what and where.

use indievalue_llm::{
    DType, Device, Error, HubOptions, LoadOptions, ModelSource, Tensor, TokenBatch, load_model,
    model_cache_dir,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/llm/tiny-llama31")
}

fn weights() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join("model.safetensors"), &Device::Cpu).unwrap()
}

/// A model directory with the fixture's config and the given tensors.
fn model_dir(tensors: &HashMap<String, Tensor>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    candle_core::safetensors::save(tensors, dir.path().join("model.safetensors")).unwrap();
    dir
}

fn load(dir: &Path) -> indievalue_llm::Result<indievalue_llm::LoadedModel> {
    load_model(
        &ModelSource::Directory(dir.to_owned()),
        &LoadOptions::default(),
    )
}

fn logits(m: &indievalue_llm::LoadedModel) -> Vec<f32> {
    m.model
        .forward_logits(&TokenBatch::single(&[3, 17, 200, 45, 9]))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

#[test]
fn sharded_safetensors_load_like_one_file() {
    let all = weights();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let (mut a, mut b) = (HashMap::new(), HashMap::new());
    let mut map = serde_json::Map::new();
    for (i, (name, t)) in all.iter().enumerate() {
        let file = if i % 2 == 0 {
            "model-00001-of-00002.safetensors"
        } else {
            "model-00002-of-00002.safetensors"
        };
        if i % 2 == 0 {
            a.insert(name.clone(), t.clone());
        } else {
            b.insert(name.clone(), t.clone());
        }
        map.insert(name.clone(), serde_json::json!(file));
    }
    candle_core::safetensors::save(&a, dir.path().join("model-00001-of-00002.safetensors"))
        .unwrap();
    candle_core::safetensors::save(&b, dir.path().join("model-00002-of-00002.safetensors"))
        .unwrap();
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        serde_json::json!({"metadata": {}, "weight_map": map}).to_string(),
    )
    .unwrap();
    let sharded = load(dir.path()).unwrap();
    assert_eq!(sharded.files.len(), 3, "config + two shards");
    let single = load(&fixture_dir()).unwrap();
    assert_eq!(logits(&sharded), logits(&single));
}

#[test]
fn hub_repositories_load_from_the_hub_cache() {
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--someone--tiny-llama31");
    let snapshot = repo.join("snapshots/0123456789abcdef");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef").unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture_dir().join(f), snapshot.join(f)).unwrap();
    }
    let options = LoadOptions {
        hub: HubOptions {
            cache_dir: Some(cache.path().to_owned()),
            token: None,
            offline: true,
        },
        ..LoadOptions::default()
    };
    let source = ModelSource::parse("someone/tiny-llama31");
    assert_eq!(
        source,
        ModelSource::Hub {
            repo: "someone/tiny-llama31".into(),
            revision: "main".into()
        }
    );
    let from_hub = load_model(&source, &options).unwrap();
    assert_eq!(logits(&from_hub), logits(&load(&fixture_dir()).unwrap()));
    assert!(from_hub.tokenizer.is_none());
    assert!(
        !from_hub.own_chat_template,
        "no tokenizer_config.json: the Llama 3.1 fallback"
    );

    let missing = load_model(&ModelSource::parse("someone/other@v2"), &options);
    match missing {
        Err(Error::Hub {
            repo,
            revision,
            file,
            ..
        }) => {
            assert_eq!(
                (repo.as_str(), revision.as_str(), file.as_str()),
                ("someone/other", "v2", "config.json")
            );
        }
        other => panic!("expected a hub error, got {:?}", other.err()),
    }
}

#[test]
fn missing_files_and_bad_configs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        load(&dir.path().join("nope")),
        Err(Error::ModelFiles { .. })
    ));
    match load(dir.path()) {
        Err(Error::ModelFiles { message, .. }) => assert!(message.contains("config.json")),
        other => panic!("{:?}", other.err()),
    }
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "gpt2", "hidden_size": 8}"#,
    )
    .unwrap();
    assert!(matches!(load(dir.path()), Err(Error::Config { .. })));
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("config.json")).unwrap())
            .unwrap();
    config["num_key_value_heads"] = serde_json::json!(3);
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    match load(dir.path()) {
        Err(Error::Config { message, .. }) => {
            assert!(message.contains("num_key_value_heads"), "{message}")
        }
        other => panic!("{:?}", other.err()),
    }
    config["num_key_value_heads"] = serde_json::json!(2);
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    match load(dir.path()) {
        Err(Error::ModelFiles { message, .. }) => assert!(message.contains("model.safetensors")),
        other => panic!("{:?}", other.err()),
    }
    let bad = load_model(
        &ModelSource::Directory(fixture_dir()),
        &LoadOptions {
            dtype: DType::U8,
            ..LoadOptions::default()
        },
    );
    assert!(matches!(bad, Err(Error::Input(_))));
}

#[test]
fn bad_tensors_are_typed_errors_naming_the_tensor() {
    let mut w = weights();
    w.remove("model.layers.1.mlp.up_proj.weight");
    let dir = model_dir(&w);
    match load(dir.path()) {
        Err(Error::MissingTensor { name, origin }) => {
            assert_eq!(name, "model.layers.1.mlp.up_proj.weight");
            assert!(origin.ends_with("model.safetensors"));
        }
        other => panic!("{:?}", other.err()),
    }
    let mut w = weights();
    w.insert(
        "model.layers.0.self_attn.k_proj.weight".into(),
        Tensor::zeros((64, 64), DType::F32, &Device::Cpu).unwrap(),
    );
    match load(model_dir(&w).path()) {
        Err(Error::TensorShape {
            name,
            expected,
            found,
            ..
        }) => {
            assert_eq!(name, "model.layers.0.self_attn.k_proj.weight");
            assert_eq!((expected, found), (vec![32, 64], vec![64, 64]));
        }
        other => panic!("{:?}", other.err()),
    }
    let mut w = weights();
    w.insert(
        "model.norm.weight".into(),
        Tensor::zeros(64, DType::I64, &Device::Cpu).unwrap(),
    );
    match load(model_dir(&w).path()) {
        Err(Error::UnsupportedDtype { name, dtype, .. }) => {
            assert_eq!(name, "model.norm.weight");
            assert_eq!(dtype, "I64");
        }
        other => panic!("{:?}", other.err()),
    }
    // A truncated file.
    let dir = model_dir(&weights());
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    match load(dir.path()) {
        Err(Error::WeightFile { path: p, .. }) => assert_eq!(p, path),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn a_truncated_gguf_file_is_a_typed_error() {
    let source = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        source.exists(),
        "{} is missing: run scripts/fetch_models.sh (CI does)",
        source.display()
    );
    let bytes = std::fs::read(&source).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    match load_model(&ModelSource::Gguf(cut.clone()), &LoadOptions::default()) {
        Err(Error::WeightFile { path, message }) => {
            assert_eq!(path, cut);
            assert!(message.contains("truncated"), "{message}");
        }
        other => panic!("{:?}", other.err()),
    }
    let tiny = dir.path().join("tiny.gguf");
    std::fs::write(&tiny, &bytes[..100]).unwrap();
    assert!(load_model(&ModelSource::Gguf(tiny), &LoadOptions::default()).is_err());
}
