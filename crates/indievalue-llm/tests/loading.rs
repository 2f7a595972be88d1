//! Loading paths beyond the single-file directory: sharded safetensors, the Hugging Face hub
//! cache, and every failure as a typed error that names what and where.

use indievalue_llm::candle_core::Var;
use indievalue_llm::{
    DType, Device, Error, HookedWeight, HubOptions, Kernels, LoadOptions, ModelSource, Tensor,
    TokenBatch, load_model, load_model_with, weight_shapes,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    indievalue_testdata::fixtures_dir().join("llm/tiny-llama31")
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
    let source = indievalue_testdata::smollm2_gguf();
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

/// Loads `source` with a hook that records what it sees and keeps every tensor; checks that it
/// saw every tensor of `weight_shapes` once, in order, with its shape. Returns what it saw.
fn record_hooked(source: &ModelSource) -> (indievalue_llm::LoadedModel, Vec<(String, Tensor)>) {
    let mut seen = Vec::new();
    let loaded = load_model_with(source, &LoadOptions::default(), |name, tensor| {
        seen.push((name.to_owned(), tensor.clone()));
        Ok(HookedWeight::Tensor(tensor))
    })
    .unwrap();
    let want = weight_shapes(loaded.model.config());
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names, want_names,
        "every tensor once, under its Hugging Face name"
    );
    for ((name, t), (_, shape)) in seen.iter().zip(&want) {
        assert_eq!(t.dims(), shape.as_slice(), "{name}");
        assert_eq!(
            t.dtype(),
            DType::F32,
            "{name}: the hook sees the model's dtype"
        );
    }
    (loaded, seen)
}

#[test]
fn the_load_hook_sees_every_safetensors_tensor_once() {
    let (hooked, seen) = record_hooked(&ModelSource::Directory(fixture_dir()));
    assert!(seen.iter().any(|(n, _)| n == "lm_head.weight"), "untied");
    assert_eq!(seen.len(), 1 + 2 * 9 + 2);
    // The tensors are the file's own, and the identity hook changes nothing.
    let file = weights();
    for (name, t) in &seen {
        let diff = (t - &file[name]).unwrap().abs().unwrap().sum_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }
    assert_eq!(logits(&hooked), logits(&load(&fixture_dir()).unwrap()));
}

#[test]
fn the_load_hook_sees_every_gguf_tensor_once_dequantized_and_unpermuted() {
    let path = indievalue_testdata::smollm2_gguf();
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh (CI does)",
        path.display()
    );
    let (loaded, seen) = record_hooked(&ModelSource::Gguf(path.clone()));
    let config = loaded.model.config();
    assert!(config.tie_word_embeddings, "SmolLM2 ties its embeddings");
    assert!(!seen.iter().any(|(n, _)| n == "lm_head.weight"));
    assert_eq!(seen.len(), 1 + config.num_hidden_layers * 9 + 1);
    // q and k rows come back in the Hugging Face order: llama.cpp's interleaving undone.
    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    for (gguf, hf, heads) in [
        (
            "blk.0.attn_q.weight",
            "model.layers.0.self_attn.q_proj.weight",
            Some(config.num_attention_heads),
        ),
        (
            "blk.3.attn_k.weight",
            "model.layers.3.self_attn.k_proj.weight",
            Some(config.num_key_value_heads),
        ),
        (
            "blk.1.attn_v.weight",
            "model.layers.1.self_attn.v_proj.weight",
            None,
        ),
    ] {
        let raw = content
            .tensor(&mut file, gguf, &Device::Cpu)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap();
        let (rows, cols) = raw.dims2().unwrap();
        let want = match heads {
            None => raw,
            Some(heads) => {
                let d = rows / heads;
                raw.reshape((heads, d / 2, 2, cols))
                    .unwrap()
                    .transpose(1, 2)
                    .unwrap()
                    .reshape((rows, cols))
                    .unwrap()
            }
        };
        let got = &seen.iter().find(|(n, _)| n == hf).unwrap().1;
        let a = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(a == b, "{hf}: not the dequantized, un-permuted {gguf}");
    }
}

#[test]
fn a_hook_zeroing_an_output_row_zeroes_that_logit_and_nothing_else() {
    // The tiny model's output projection is its own tensor (untied): zeroing row `t` of
    // `lm_head.weight` zeroes logit `t` only. (In a tied model that row is also token t's
    // embedding, so every position after a `t` would change too.)
    let t = 17usize;
    let source = ModelSource::Directory(fixture_dir());
    let input = TokenBatch::right_padded(&[vec![3, 17, 200, 45, 9, 17], vec![8, 1, 2]], 0).unwrap();
    for kernels in [Kernels::Fused, Kernels::Differentiable] {
        let options = LoadOptions {
            kernels,
            ..LoadOptions::default()
        };
        let plain = load_model(&source, &options).unwrap();
        let mut hooked_names = 0;
        let hooked = load_model_with(&source, &options, |name, w| {
            if name != "lm_head.weight" {
                return Ok(w.into());
            }
            hooked_names += 1;
            let vocab = w.dim(0).unwrap();
            let keep: Vec<f32> = (0..vocab).map(|i| if i == t { 0.0 } else { 1.0 }).collect();
            let keep = Tensor::from_vec(keep, (vocab, 1), w.device()).unwrap();
            Ok(w.broadcast_mul(&keep).unwrap().into())
        })
        .unwrap();
        assert_eq!(hooked_names, 1);
        assert!(!hooked.model.config().tie_word_embeddings);
        let want = plain.model.forward_logits(&input).unwrap();
        let got = hooked.model.forward_logits(&input).unwrap();
        let (rows, len, vocab) = got.dims3().unwrap();
        let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for r in 0..rows {
            for p in 0..len {
                for v in 0..vocab {
                    let i = (r * len + p) * vocab + v;
                    if v == t {
                        assert_eq!(got[i], 0.0, "{kernels:?} row {r} position {p}");
                        assert_ne!(want[i], 0.0);
                    } else {
                        assert_eq!(
                            got[i].to_bits(),
                            want[i].to_bits(),
                            "{kernels:?} row {r} position {p} logit {v}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn variables_from_the_hook_are_what_a_differentiable_model_computes_with() {
    let options = LoadOptions {
        kernels: Kernels::Differentiable,
        ..LoadOptions::default()
    };
    let mut vars: Vec<(String, Var)> = Vec::new();
    let loaded = load_model_with(
        &ModelSource::Directory(fixture_dir()),
        &options,
        |name, tensor| {
            let var = Var::from_tensor(&tensor).unwrap();
            vars.push((name.to_owned(), var.clone()));
            Ok(HookedWeight::Var(var))
        },
    )
    .unwrap();
    let m = &loaded.model;
    assert_eq!(vars.len(), weight_shapes(m.config()).len());
    let input = TokenBatch::single(&[3, 17, 200, 45, 9]);
    let logits = m.forward_logits(&input).unwrap();
    let weights = Tensor::randn(0f32, 1.0, logits.dims(), &Device::Cpu).unwrap();
    let grads = (&logits * &weights)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (name, var) in &vars {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient reached {name}"));
        let norm = g
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name}: zero gradient");
    }
    // Updating a variable updates the model: zero the output projection.
    let (_, head) = vars.iter().find(|(n, _)| n == "lm_head.weight").unwrap();
    head.set(&head.zeros_like().unwrap()).unwrap();
    let after = m.forward_logits(&input).unwrap();
    let max = indievalue_llm::max_abs_difference(&after, &after.zeros_like().unwrap()).unwrap();
    assert_eq!(max, 0.0);
}

#[test]
fn hook_errors_and_bad_replacements_end_loading() {
    let source = ModelSource::Directory(fixture_dir());
    let stopped = load_model_with(&source, &LoadOptions::default(), |name, t| {
        if name == "model.layers.1.mlp.gate_proj.weight" {
            return Err(Error::Input(format!("no thanks: {name}")));
        }
        Ok(t.into())
    });
    match stopped {
        Err(Error::Input(message)) => assert!(message.contains("gate_proj"), "{message}"),
        other => panic!("{:?}", other.err()),
    }
    let reshaped = load_model_with(&source, &LoadOptions::default(), |name, t| {
        if name == "model.norm.weight" {
            return Ok(Tensor::ones(3, DType::F32, &Device::Cpu).unwrap().into());
        }
        Ok(t.into())
    });
    match reshaped {
        Err(Error::TensorShape { name, found, .. }) => {
            assert_eq!((name.as_str(), found), ("model.norm.weight", vec![3]));
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn a_var_builder_without_a_tensor_is_a_missing_tensor_error() {
    let config = indievalue_llm::LlamaConfig::from_file(fixture_dir().join("config.json")).unwrap();
    let mut w = weights();
    w.remove("model.layers.0.mlp.down_proj.weight");
    let vb = candle_nn::VarBuilder::from_tensors(w, DType::F32, &Device::Cpu);
    match indievalue_llm::Llama::from_var_builder(config, &vb, Kernels::Fused, 0.1) {
        Err(Error::MissingTensor { name, .. }) => {
            assert_eq!(name, "model.layers.0.mlp.down_proj.weight")
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("built without a tensor"),
    }
}
