//! One micro-batch's forward and backward pass, in stages that bound memory:
//!
//! - **the head in chunks**: the final norm, the output projection and the loss run on at most
//!   `loss_chunk` supervised positions at a time, each chunk backpropagated to the last hidden
//!   states before the next one starts, so only one chunk's logits ever exist;
//! - **gradient checkpointing** (optional): the forward pass keeps only each decoder layer's
//!   input (no graph); the backward pass reruns one layer at a time on its saved input and
//!   backpropagates `(output · upstream).sum()` through it, so one layer's activations exist at
//!   a time;
//! - frozen weights get no gradient at all (the model projects through
//!   [`indievalue_llm::linear`], which computes a weight's gradient only for a variable).
//!
//! Gradients are the loss's (summed cross-entropy times `scale`), equal to those of one
//! backward pass through the whole graph ([`crate::summed_loss`]) up to summation order.
//! Dropout masks are drawn from one stream per layer, so a rerun layer draws what it drew.

use crate::data::{IGNORE_INDEX, SupervisedExample};
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use indievalue_llm::{DropoutStream, Llama, TokenBatch};
use serde::{Deserialize, Serialize};

fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> Error {
    move |source| Error::Tensor { context, source }
}

/// How a pass trades compute for memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassOptions {
    /// Supervised positions projected onto the vocabulary (and backpropagated) at a time.
    pub loss_chunk: usize,
    /// Keep only layer inputs in the forward pass and rerun each layer in the backward pass.
    pub checkpointing: bool,
}

impl Default for PassOptions {
    /// Chunks of 128 positions, no checkpointing.
    fn default() -> Self {
        PassOptions {
            loss_chunk: 128,
            checkpointing: false,
        }
    }
}

/// The dropout stream of each layer (by index), for one micro-batch.
pub type LayerDropout<'a> = &'a dyn Fn(usize) -> DropoutStream;

/// A right-padded batch with its supervised targets: flat row-major positions whose logits
/// predict `targets`.
struct Targets {
    batch: TokenBatch,
    positions: Vec<u32>,
    targets: Vec<u32>,
}

fn targets(examples: &[&SupervisedExample]) -> Result<Targets> {
    let rows: Vec<Vec<u32>> = examples.iter().map(|e| e.input_ids.clone()).collect();
    let batch = TokenBatch::right_padded(&rows, 0)?;
    let len = batch.len();
    let (mut positions, mut targets) = (Vec::new(), Vec::new());
    for (r, e) in examples.iter().enumerate() {
        for t in 1..e.labels.len() {
            if e.labels[t] != IGNORE_INDEX {
                positions.push((r * len + t - 1) as u32);
                targets.push(e.labels[t] as u32);
            }
        }
    }
    Ok(Targets {
        batch,
        positions,
        targets,
    })
}

/// Adds the gradients `store` holds for `vars` (as f32) into `grads`.
fn accumulate(store: &GradStore, vars: &[&Var], grads: &mut [Option<Tensor>]) -> Result<()> {
    for (g, v) in grads.iter_mut().zip(vars) {
        let Some(new) = store.get(v.as_tensor()) else {
            continue;
        };
        let new = new.to_dtype(DType::F32).map_err(candle("gradient"))?;
        *g = Some(match g.take() {
            None => new,
            Some(old) => (old + new).map_err(candle("gradient"))?,
        });
    }
    Ok(())
}

/// Where a backward pass's gradients go: `scale ·` loss, for `vars`, added into `grads`.
struct GradientSink<'a, 'v> {
    scale: f64,
    vars: &'a [&'v Var],
    grads: &'a mut [Option<Tensor>],
}

/// The head on the last hidden states `top` (`[rows·len, hidden]`) chunk by chunk: the summed
/// loss, and with `train` the gradient of `scale ·` loss for `top` (when it is a variable) with
/// the head's own variables' gradients accumulated.
fn head(
    model: &Llama,
    top: &Tensor,
    t: &Targets,
    chunk: usize,
    mut train: Option<&mut GradientSink<'_, '_>>,
) -> Result<(f64, Option<Tensor>)> {
    let device = model.device();
    let mut loss = 0f64;
    let mut upstream: Option<Tensor> = None;
    let chunk = chunk.max(1);
    for (pos, tgt) in t.positions.chunks(chunk).zip(t.targets.chunks(chunk)) {
        let part = || -> candle_core::Result<Tensor> {
            let idx = Tensor::new(pos, device)?;
            let picked = top.index_select(&idx, 0)?;
            let normed = model
                .final_norm(&picked)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            let logits = model
                .logits(&normed)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?
                .to_dtype(DType::F32)?;
            indievalue_llm::summed_cross_entropy(&logits, tgt)
        };
        let part = part().map_err(candle("loss"))?;
        loss += f64::from(part.to_scalar::<f32>().map_err(candle("loss"))?);
        if let Some(sink) = train.as_mut() {
            let store = (part * sink.scale)
                .and_then(|l| l.backward())
                .map_err(candle("backward of the loss"))?;
            accumulate(&store, sink.vars, sink.grads)?;
            if let Some(g) = store.get(top) {
                upstream = Some(match upstream.take() {
                    None => g.clone(),
                    Some(u) => (u + g).map_err(candle("gradient"))?,
                });
            }
        }
    }
    Ok((loss, upstream))
}

/// Backpropagates `upstream` (the gradient for `output`) through `output`'s graph.
fn backward_from(output: &Tensor, upstream: &Tensor) -> Result<GradStore> {
    (|| (output * upstream)?.sum_all()?.backward())().map_err(candle("backward pass"))
}

/// The summed loss of `examples` (a right-padded micro-batch) and its number of supervised
/// targets; the gradients of `scale ·` that loss for `vars` are added (as f32) into `grads`.
pub fn forward_backward(
    model: &Llama,
    examples: &[&SupervisedExample],
    vars: &[&Var],
    grads: &mut [Option<Tensor>],
    scale: f64,
    options: &PassOptions,
    dropout: Option<LayerDropout<'_>>,
) -> Result<(f64, usize)> {
    if grads.len() != vars.len() {
        return Err(Error::Config(format!(
            "{} gradient slots for {} variables",
            grads.len(),
            vars.len()
        )));
    }
    let t = targets(examples)?;
    let mut sink = GradientSink { scale, vars, grads };
    let inputs = model.decoder_inputs(&t.batch)?;
    let layers = model.config().num_hidden_layers;
    let width = model.config().hidden_size;
    let flat_len = t.batch.rows() * t.batch.len();
    let stream = |l: usize| dropout.map(|d| d(l));
    if options.checkpointing {
        let mut saved = Vec::with_capacity(layers);
        let mut x = model.embed_tokens(&t.batch)?.detach();
        for l in 0..layers {
            let next = model.decoder_layer(l, &x, &inputs, stream(l).as_ref())?;
            saved.push(x);
            x = next.detach();
        }
        let top = leaf(&x, (flat_len, width))?;
        let (loss, upstream) = head(
            model,
            top.as_tensor(),
            &t,
            options.loss_chunk,
            Some(&mut sink),
        )?;
        let Some(upstream) = upstream else {
            return Ok((loss, t.positions.len()));
        };
        let mut upstream = upstream.reshape(x.shape()).map_err(candle("gradient"))?;
        for l in (0..layers).rev() {
            // Layer 0 reruns from the embedding, so a trained embedding gets its gradient.
            let (input, leaf) = if l == 0 {
                (model.embed_tokens(&t.batch)?, None)
            } else {
                let v = Var::from_tensor(&saved[l]).map_err(candle("layer input"))?;
                (v.as_tensor().clone(), Some(v))
            };
            saved.truncate(l);
            let output = model.decoder_layer(l, &input, &inputs, stream(l).as_ref())?;
            let store = backward_from(&output, &upstream)?;
            accumulate(&store, sink.vars, sink.grads)?;
            match leaf.as_ref().and_then(|v| store.get(v.as_tensor())) {
                Some(g) => upstream = g.clone(),
                None => break,
            }
        }
        Ok((loss, t.positions.len()))
    } else {
        let mut x = model.embed_tokens(&t.batch)?;
        for l in 0..layers {
            x = model.decoder_layer(l, &x, &inputs, stream(l).as_ref())?;
        }
        let top = leaf(&x.detach(), (flat_len, width))?;
        let (loss, upstream) = head(
            model,
            top.as_tensor(),
            &t,
            options.loss_chunk,
            Some(&mut sink),
        )?;
        if let Some(upstream) = upstream {
            let upstream = upstream.reshape(x.shape()).map_err(candle("gradient"))?;
            let store = backward_from(&x, &upstream)?;
            accumulate(&store, sink.vars, sink.grads)?;
        }
        Ok((loss, t.positions.len()))
    }
}

/// `x` reshaped to `shape` as a fresh variable (a leaf whose gradient the head returns).
fn leaf(x: &Tensor, shape: (usize, usize)) -> Result<Var> {
    x.reshape(shape)
        .and_then(|t| Var::from_tensor(&t))
        .map_err(candle("last hidden states"))
}

/// The summed loss of `examples` and their number of supervised targets, with no gradient
/// kept: layer by layer, each layer's graph dropped before the next, the head in chunks.
pub fn summed_loss_no_grad(
    model: &Llama,
    examples: &[&SupervisedExample],
    loss_chunk: usize,
) -> Result<(f64, usize)> {
    let t = targets(examples)?;
    let inputs = model.decoder_inputs(&t.batch)?;
    let mut x = model.embed_tokens(&t.batch)?.detach();
    for l in 0..model.config().num_hidden_layers {
        x = model.decoder_layer(l, &x, &inputs, None)?.detach();
    }
    let flat_len = t.batch.rows() * t.batch.len();
    let top = x
        .reshape((flat_len, model.config().hidden_size))
        .map_err(candle("last hidden states"))?;
    let (loss, _) = head(model, &top, &t, loss_chunk, None)?;
    Ok((loss, t.positions.len()))
}
