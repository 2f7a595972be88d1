//! Merged export: the directories `export_model` writes are the ones transformers was shown by
//! `scripts/make_merge_fixture.py` (same bytes), and our loader reads them back with PEFT's
//! logits of base + adapter (`fixtures/finetune/merged/check.json`).

use indievalue_finetune::export::{MAX_SHARD_BYTES, export_model};
use indievalue_finetune::read_safetensors;
use indievalue_llm::{
    Device, LoadOptions, LoadedModel, ModelSource, Tensor, TokenBatch, load_model,
    max_abs_difference,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn fixture(path: &str) -> PathBuf {
    indievalue_testdata::fixtures_dir().join(path)
}

fn check() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("finetune/merged/check.json")).unwrap())
        .unwrap()
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file the fixture lists was written with the same bytes.
fn assert_files_match(dir: &Path, want: &Value) {
    let want = want.as_object().unwrap();
    assert!(!want.is_empty());
    for (name, hash) in want {
        assert_eq!(
            sha256(&dir.join(name)),
            hash.as_str().unwrap(),
            "{name} is not the file transformers was shown (rerun scripts/make_merge_fixture.py)"
        );
    }
}

fn logits(model: &LoadedModel, ids: &[u32]) -> Tensor {
    model
        .model
        .forward_logits(&TokenBatch::single(ids))
        .unwrap()
        .squeeze(0)
        .unwrap()
}

fn examples() -> Vec<Vec<u32>> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("finetune/examples.json")).unwrap())
            .unwrap();
    v["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_value(e["input_ids"].clone()).unwrap())
        .collect()
}

fn export_tiny(max_shard: u64) -> (tempfile::TempDir, indievalue_finetune::export::ExportReport) {
    let out = tempfile::tempdir().unwrap();
    let report = export_model(
        &ModelSource::Directory(fixture("llm/tiny-llama31")),
        &LoadOptions::default(),
        Some(&fixture("finetune/ours")),
        out.path(),
        max_shard,
    )
    .unwrap();
    (out, report)
}

#[test]
fn the_tiny_merged_model_is_what_transformers_checked_and_gives_peft_logits() {
    let (out, report) = export_tiny(MAX_SHARD_BYTES);
    assert_eq!(report.merged, 14, "seven projections in each of two layers");
    assert_files_match(out.path(), &check()["tiny"]["files"]);
    let merged = load_model(
        &ModelSource::Directory(out.path().to_owned()),
        &LoadOptions::default(),
    )
    .unwrap();
    let peft = read_safetensors(
        &fixture("finetune/ours/peft_logits.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    for (i, ids) in examples().iter().enumerate() {
        let ours = logits(&merged, ids);
        let d = max_abs_difference(&ours, &peft[&format!("peft_logits_{i}")]).unwrap();
        assert!(d < 1e-4, "example {i}: merged vs PEFT {d}");
        let moved = max_abs_difference(&ours, &peft[&format!("base_logits_{i}")]).unwrap();
        assert!(moved > 1e-3, "the merge changed the model ({moved})");
    }
}

#[test]
fn a_sharded_export_loads_to_the_same_model() {
    let (whole, _) = export_tiny(MAX_SHARD_BYTES);
    let (sharded, report) = export_tiny(100_000);
    let index = sharded.path().join("model.safetensors.index.json");
    let index: Value = serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
    let map = index["weight_map"].as_object().unwrap();
    assert_eq!(map.len(), report.tensors);
    let shards: std::collections::BTreeSet<&str> =
        map.values().map(|v| v.as_str().unwrap()).collect();
    assert!(shards.len() >= 3, "{shards:?}");
    for s in &shards {
        let size = std::fs::metadata(sharded.path().join(s)).unwrap().len();
        assert!(size < 100_000 + 70_000, "{s}: {size} bytes");
    }
    assert_eq!(
        index["metadata"]["total_size"].as_u64().unwrap(),
        report.weight_bytes
    );
    assert!(!sharded.path().join("model.safetensors").exists());
    let a = load_model(
        &ModelSource::Directory(whole.path().to_owned()),
        &LoadOptions::default(),
    )
    .unwrap();
    let b = load_model(
        &ModelSource::Directory(sharded.path().to_owned()),
        &LoadOptions::default(),
    )
    .unwrap();
    let ids = &examples()[1];
    assert_eq!(
        max_abs_difference(&logits(&a, ids), &logits(&b, ids)).unwrap(),
        0.0
    );
}

/// SmolLM2 from its GGUF file with a LoRA adapter trained by our `finetune` example: the
/// directory we write (config.json and tokenizer.json from the GGUF metadata) is the one
/// transformers loaded with PEFT's logits, and our loader gives those logits too.
#[test]
fn smollm2_merged_from_gguf_is_what_transformers_checked_and_gives_peft_logits() {
    let check = check();
    let want = &check["smollm2"];
    let out = tempfile::tempdir().unwrap();
    let report = export_model(
        &ModelSource::Gguf(indievalue_testdata::smollm2_gguf()),
        &LoadOptions::default(),
        Some(&fixture("finetune/merged/smollm2-adapter")),
        out.path(),
        MAX_SHARD_BYTES,
    )
    .unwrap();
    assert_eq!(report.merged, 60, "q_proj and v_proj of 30 layers");
    assert_files_match(out.path(), &want["files"]);
    let merged = load_model(
        &ModelSource::Directory(out.path().to_owned()),
        &LoadOptions::default(),
    )
    .unwrap();
    let ids: Vec<u32> = serde_json::from_value(want["token_ids"].clone()).unwrap();
    let tokenizer = merged.tokenizer.as_ref().unwrap();
    assert_eq!(
        tokenizer.encode(want["text"].as_str().unwrap()).unwrap(),
        ids
    );
    let peft = read_safetensors(
        &fixture("finetune/merged/smollm2_peft_logits.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let ours = logits(&merged, &ids);
    let last = ours.narrow(0, ids.len() - 2, 2).unwrap();
    let d = max_abs_difference(&last, &peft["peft_logits_last"]).unwrap();
    assert!(d < 1e-4, "merged SmolLM2 vs PEFT: {d}");
}
