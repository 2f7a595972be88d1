//! The causal-LM loss as transformers computes it: labels shifted by one inside, cross-entropy
//! summed over the supervised targets (`-100` ignored) in f32; the caller divides by the
//! supervised count of the whole optimizer step. Only supervised positions are projected onto
//! the vocabulary, in chunks, so the full logits tensor never exists.

use crate::data::{IGNORE_INDEX, SupervisedExample};
use crate::{Error, Result};
use candle_core::{D, DType, Tensor};
use indievalue_llm::{Llama, TokenBatch};

fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> Error {
    move |source| Error::Tensor { context, source }
}

/// Summed cross-entropy of a right-padded batch of examples (a scalar f32 tensor carrying
/// gradients) and the number of supervised targets in it. Positions are projected `chunk` at a
/// time.
pub fn summed_loss(
    model: &Llama,
    examples: &[&SupervisedExample],
    chunk: usize,
) -> Result<(Tensor, usize)> {
    let rows: Vec<Vec<u32>> = examples.iter().map(|e| e.input_ids.clone()).collect();
    let batch = TokenBatch::right_padded(&rows, 0)?;
    let len = batch.len();
    let mut cache = model.new_cache(rows.len());
    let hidden = model.forward(&batch, &mut cache)?;
    let width = hidden.dim(2).map_err(candle("hidden states"))?;
    let flat = hidden
        .reshape((rows.len() * len, width))
        .map_err(candle("hidden states"))?;
    let (mut index, mut targets) = (Vec::new(), Vec::new());
    for (r, e) in examples.iter().enumerate() {
        for t in 1..e.labels.len() {
            if e.labels[t] != IGNORE_INDEX {
                index.push((r * len + t - 1) as u32);
                targets.push(e.labels[t] as u32);
            }
        }
    }
    let device = model.device();
    let mut total: Option<Tensor> = None;
    for (idx, tgt) in index.chunks(chunk.max(1)).zip(targets.chunks(chunk.max(1))) {
        let part = || -> candle_core::Result<Tensor> {
            let idx = Tensor::new(idx, device)?;
            let tgt = Tensor::new(tgt, device)?.unsqueeze(1)?;
            let picked = flat.index_select(&idx, 0)?;
            let logits = model
                .logits(&picked)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?
                .to_dtype(DType::F32)?;
            let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
            log_probs.gather(&tgt, 1)?.sum_all()?.neg()
        };
        let p = part().map_err(candle("loss"))?;
        total = Some(match total {
            None => p,
            Some(t) => (t + p).map_err(candle("loss"))?,
        });
    }
    let total = match total {
        Some(t) => t,
        None => Tensor::zeros((), DType::F32, device).map_err(candle("loss"))?,
    };
    Ok((total, index.len()))
}
