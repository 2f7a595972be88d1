//! Golden parity with Hugging Face `transformers` on a tiny random Llama-3.1-shaped model
//! (fixture made by `scripts/make_llama_parity_fixture.py`), plus the cache, chunking and
//! padding equalities that probing relies on.

use indievalue_llm::{
    DType, Device, Error, Kernels, LoadOptions, LoadedModel, ModelSource, Tensor, TokenBatch,
    load_model,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    indievalue_testdata::fixtures_dir().join("llm/tiny-llama31")
}

fn tiny(dtype: DType) -> LoadedModel {
    tiny_with(dtype, Kernels::Fused)
}

/// The tiny model built for `kernels` (which fix its weight layout).
fn tiny_with(dtype: DType, kernels: Kernels) -> LoadedModel {
    let options = LoadOptions {
        dtype,
        kernels,
        ..LoadOptions::default()
    };
    load_model(&ModelSource::Directory(fixture_dir()), &options).expect("tiny model loads")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join("expected.safetensors"), &Device::Cpu)
        .expect("expected.safetensors")
}

fn ids(t: &Tensor) -> Vec<u32> {
    t.to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as u32)
        .collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    indievalue_llm::max_abs_difference(a, b).unwrap()
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
        assert!(
            d < 1e-4,
            "sequence {i} ({} tokens): max |Δlogit| {d}",
            input.len()
        );
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
        let ids: Vec<u32> = input
            .flatten_all()
            .unwrap()
            .to_vec1::<i64>()
            .unwrap()
            .iter()
            .map(|&v| v as u32)
            .collect();
        let valid: Vec<bool> = mask
            .flatten_all()
            .unwrap()
            .to_vec1::<i64>()
            .unwrap()
            .iter()
            .map(|&v| v == 1)
            .collect();
        let batch = TokenBatch::from_parts(ids, valid.clone(), rows).unwrap();
        let got = m.model.forward_logits(&batch).unwrap();
        let want = &e[&format!("{side}_logits")];
        let mut checked = 0;
        for r in 0..rows {
            for t in 0..len {
                if valid[r * len + t] {
                    let d = max_diff(
                        &got.get(r).unwrap().get(t).unwrap(),
                        &want.get(r).unwrap().get(t).unwrap(),
                    );
                    assert!(d < 1e-4, "{side} batch row {r} position {t}: {d}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 12 + 5 + 9);
    }
}

fn random_ids(n: usize, seed: u64) -> Vec<u32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            3 + (x % 253) as u32
        })
        .collect()
}

#[test]
fn continuation_on_a_cached_prefix_equals_running_from_scratch() {
    let m = tiny(DType::F32).model;
    let prefix = random_ids(30, 1);
    let rest = random_ids(9, 2);
    let whole: Vec<u32> = prefix.iter().chain(&rest).copied().collect();
    let scratch = m.forward_logits(&TokenBatch::single(&whole)).unwrap();
    let mut cache = m.new_cache(1);
    m.forward(&TokenBatch::single(&prefix), &mut cache).unwrap();
    assert_eq!(cache.len(), 30);
    let hidden = m.forward(&TokenBatch::single(&rest), &mut cache).unwrap();
    let got = m.logits(&hidden).unwrap();
    let want = scratch.narrow(1, 30, 9).unwrap();
    let d = max_diff(&got, &want);
    assert!(d < 1e-4, "cached continuation differs by {d}");
    // Token by token (generation) as well.
    let mut cache = m.new_cache(1);
    m.forward(&TokenBatch::single(&prefix), &mut cache).unwrap();
    for (i, &t) in rest.iter().enumerate() {
        let h = m.forward(&TokenBatch::single(&[t]), &mut cache).unwrap();
        let d = max_diff(
            &m.logits(&h).unwrap(),
            &scratch.narrow(1, 30 + i, 1).unwrap(),
        );
        assert!(d < 1e-4, "step {i}: {d}");
    }
}

#[test]
fn shared_prefix_continuations_equal_their_runs_from_scratch() {
    let m = tiny(DType::F32).model;
    let prefix = random_ids(25, 3);
    let continuations = vec![
        random_ids(6, 4),
        random_ids(2, 5),
        random_ids(9, 6),
        random_ids(1, 7),
    ];
    let mut cache = m.new_cache(1);
    m.forward(&TokenBatch::single(&prefix), &mut cache).unwrap();
    let batch = TokenBatch::right_padded(&continuations, 0).unwrap();
    let hidden = m.forward_continuations(&cache, &batch).unwrap();
    let logits = m.logits(&hidden).unwrap();
    assert_eq!(cache.len(), 25, "the shared prefix is left unchanged");
    for (r, c) in continuations.iter().enumerate() {
        let whole: Vec<u32> = prefix.iter().chain(c).copied().collect();
        let scratch = m.forward_logits(&TokenBatch::single(&whole)).unwrap();
        let want = scratch.narrow(1, 25, c.len()).unwrap().squeeze(0).unwrap();
        let got = logits.get(r).unwrap().narrow(0, 0, c.len()).unwrap();
        let d = max_diff(&got, &want);
        assert!(d < 1e-4, "continuation {r}: {d}");
    }
}

#[test]
fn chunked_prefill_equals_one_pass_and_padded_rows_equal_single_runs() {
    let mut m = tiny(DType::F32).model;
    let rows = vec![random_ids(37, 8), random_ids(11, 9), random_ids(23, 10)];
    let singles: Vec<Tensor> = rows
        .iter()
        .map(|r| {
            m.forward_logits(&TokenBatch::single(r))
                .unwrap()
                .squeeze(0)
                .unwrap()
        })
        .collect();
    for chunk in [5, 16, 1000] {
        m.set_prefill_chunk(chunk);
        for (left, batch) in [
            (false, TokenBatch::right_padded(&rows, 0).unwrap()),
            (true, TokenBatch::left_padded(&rows, 0).unwrap()),
        ] {
            let logits = m.forward_logits(&batch).unwrap();
            for (r, row) in rows.iter().enumerate() {
                let start = if left { 37 - row.len() } else { 0 };
                let got = logits.get(r).unwrap().narrow(0, start, row.len()).unwrap();
                let d = max_diff(&got, &singles[r]);
                assert!(d < 1e-4, "chunk {chunk}, left {left}, row {r}: {d}");
            }
        }
    }
    // A padded batch continued with a cache keeps each row's positions.
    m.set_prefill_chunk(7);
    let mut cache = m.new_cache(3);
    m.forward(&TokenBatch::left_padded(&rows, 0).unwrap(), &mut cache)
        .unwrap();
    let next = TokenBatch::from_parts(vec![5, 6, 7], vec![true; 3], 3).unwrap();
    let h = m.forward(&next, &mut cache).unwrap();
    let got = m.logits(&h).unwrap();
    for (r, row) in rows.iter().enumerate() {
        let mut whole = row.clone();
        whole.push(5 + r as u32);
        let want = m.forward_logits(&TokenBatch::single(&whole)).unwrap();
        let d = max_diff(
            &got.get(r).unwrap(),
            &want.get(0).unwrap().narrow(0, whole.len() - 1, 1).unwrap(),
        );
        assert!(d < 1e-4, "row {r} after a padded prefill: {d}");
    }
}

#[test]
fn half_precision_runs_stay_close_to_f32() {
    let input = random_ids(20, 11);
    let reference = tiny(DType::F32)
        .model
        .forward_logits(&TokenBatch::single(&input))
        .unwrap();
    for dtype in [DType::BF16, DType::F16] {
        let m = tiny(dtype).model;
        assert_eq!(m.dtype(), dtype);
        let got = m.forward_logits(&TokenBatch::single(&input)).unwrap();
        assert_eq!(got.dtype(), dtype);
        let d = max_diff(&got, &reference);
        // Logits are of order 1-6 here; bf16 keeps 8 bits of mantissa.
        assert!(d < 0.15, "{dtype:?}: max |Δlogit| {d}");
        let same_top1 = (0..20)
            .filter(|&t| {
                let a = got
                    .get(0)
                    .unwrap()
                    .get(t)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap()
                    .argmax(0)
                    .unwrap()
                    .to_scalar::<u32>()
                    .unwrap();
                let b = reference
                    .get(0)
                    .unwrap()
                    .get(t)
                    .unwrap()
                    .argmax(0)
                    .unwrap()
                    .to_scalar::<u32>()
                    .unwrap();
                a == b
            })
            .count();
        assert!(
            same_top1 >= 17,
            "{dtype:?}: top-1 agrees at {same_top1}/20 positions"
        );
    }
}

#[test]
fn fused_and_differentiable_kernels_agree() {
    // One model per layout: a model built for fused kernels cannot switch to differentiable ones.
    let fused_model = tiny_with(DType::F32, Kernels::Fused).model;
    let slow_model = tiny_with(DType::F32, Kernels::Differentiable).model;
    let input = random_ids(33, 12);
    let fused = fused_model
        .forward_logits(&TokenBatch::single(&input))
        .unwrap();
    let slow = slow_model
        .forward_logits(&TokenBatch::single(&input))
        .unwrap();
    let d = max_diff(&fused, &slow);
    assert!(d < 1e-4, "{d}");
}

#[test]
fn the_weight_layout_is_fixed_when_the_model_is_built() {
    let input = TokenBatch::single(&random_ids(33, 12));
    let mut fused = tiny_with(DType::F32, Kernels::Fused).model;
    assert_eq!(fused.weight_layout(), Kernels::Fused);
    let before = fused.forward_logits(&input).unwrap();
    match fused.set_kernels(Kernels::Differentiable) {
        Err(Error::FusedWeightLayout) => {}
        other => panic!("a fused model switched to differentiable kernels: {other:?}"),
    }
    assert_eq!(
        fused.kernels(),
        Kernels::Fused,
        "a refused switch changes nothing"
    );
    fused.set_kernels(Kernels::Fused).unwrap();
    assert_eq!(
        max_diff(&fused.forward_logits(&input).unwrap(), &before),
        0.0
    );

    // Separate weights switch freely both ways: fused kernels over separate weights agree with
    // the fused layout, and switching back gives the differentiable outputs again, bit for bit.
    let mut separate = tiny_with(DType::F32, Kernels::Differentiable).model;
    assert_eq!(separate.weight_layout(), Kernels::Differentiable);
    let slow = separate.forward_logits(&input).unwrap();
    separate.set_kernels(Kernels::Fused).unwrap();
    assert_eq!(separate.kernels(), Kernels::Fused);
    assert_eq!(separate.weight_layout(), Kernels::Differentiable);
    let fast = separate.forward_logits(&input).unwrap();
    let d = max_diff(&fast, &before);
    assert!(d < 1e-4, "fused kernels over separate weights: {d}");
    separate.set_kernels(Kernels::Differentiable).unwrap();
    assert_eq!(
        max_diff(&separate.forward_logits(&input).unwrap(), &slow),
        0.0
    );
}
