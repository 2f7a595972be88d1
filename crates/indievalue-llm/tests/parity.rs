//! Golden parity with Hugging Face `transformers` on a tiny random Llama-3.1-shaped model
//! (fixture made by `scripts/make_llama_parity_fixture.py`), plus the cache, chunking and
//! padding equalities that probing relies on.

use indievalue_llm::{
    DType, Device, Kernels, LoadOptions, LoadedModel, ModelSource, Tensor, TokenBatch, load_model,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/llm/tiny-llama31")
}

fn tiny(dtype: DType) -> LoadedModel {
    let options = LoadOptions {
        dtype,
        ..LoadOptions::default()
    };
    load_model(&ModelSource::Directory(fixture_dir()), &options).expect("tiny model loads")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join("expected.safetensors"), &Device::Cpu)
        .expect("expected.safetensors")
}

fn ids(t: &Tensor) -> Vec<u32> {
    t.to_vec1::<i64>().unwrap().into_iter().map(|v| v as u32).collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.to_dtype(DType::F32)
        .unwrap()
        .sub(&b.to_dtype(DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn every_position_matches_transformers() {
    let m = tiny(DType::F32);
    let e = expected();
    for i in 0..3 {
        let input = ids(&e[&format!("single_{i}_input_ids")]);
        let want = &e[&format!("single_{i}_logits")];
        let got = m.model.forward_logits(&TokenBatch::single(&input)).unwrap();
        let d = max_diff(&got.squeeze(0).unwrap(), want);
        assert!(d < 1e-4, "sequence {i} ({} tokens): max |Δlogit| {d}", input.len());
    }
}

#[test]
fn padded_batches_match_transformers_at_valid_positions() {
    let m = tiny(DType::F32);
    let e = expected();
    for side in ["right", "left"] {
        let input = &e[&format!("{side}_input_ids")];
        let mask = &e[&format!("{side}_attention_mask")];
        let (rows, len) = input.dims2().unwrap();
        let ids: Vec<u32> = input.flatten_all().unwrap().to_vec1::<i64>().unwrap().iter().map(|&v| v as u32).collect();
        let valid: Vec<bool> = mask.flatten_all().unwrap().to_vec1::<i64>().unwrap().iter().map(|&v| v == 1).collect();
        let batch = TokenBatch::from_parts(ids, valid.clone(), rows).unwrap();
        let got = m.model.forward_logits(&batch).unwrap();
        let want = &e[&format!("{side}_logits")];
        let mut checked = 0;
        for r in 0..rows {
            for t in 0..len {
                if valid[r * len + t] {
                    let d = max_diff(&got.get(r).unwrap().get(t).unwrap(), &want.get(r).unwrap().get(t).unwrap());
                    assert!(d < 1e-4, "{side} batch row {r} position {t}: {d}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 12 + 5 + 9);
    }
}
