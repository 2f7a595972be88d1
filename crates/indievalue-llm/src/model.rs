//! The Llama-3.x transformer on candle: every position's logits, a key/value cache that a shared
//! prefix fills once, padded batches, chunked prefill, and a training path whose every op
//! carries gradients.

use crate::attention::CausalAttention;
use crate::batch::TokenBatch;
use crate::cache::KvCache;
use crate::config::LlamaConfig;
use crate::fused_cpu::{RmsNorm, Rotary, RotaryTables};
use crate::linear::linear;
use crate::low_rank::{DropoutStream, LowRank, Projection};
use crate::{Error, Result};
use candle_core::{D, DType, Device, Tensor};
use std::sync::Arc;

/// Which kernels the forward pass uses, and, when a model is built, its weight layout.
///
/// The kernels a model is built with fix how it stores its weights, for good:
///
/// - built with `Fused`: the q/k/v and gate/up projections are concatenated and every
///   projection is stored transposed. These are copies of the tensors the model was given, so
///   such a model can only run fused kernels ([`Llama::set_kernels`] refuses
///   `Differentiable`: an optimizer updating the given tensors would never reach the copies).
/// - built with `Differentiable`: every tensor is kept as given (variables stay variables), and
///   the model may switch to `Fused` kernels and back at will (fused kernels then run over the
///   separate weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// candle's fused RMS norm, softmax and rotary kernels: fast, but they carry **no gradient**.
    /// For inference.
    Fused,
    /// Ops composed from differentiable primitives (`rms_norm_slow`, `ops::softmax`, a composed
    /// rotary embedding), and no chunking of long inputs. For training and gradient checks.
    Differentiable,
}

/// The input projections of a block: separate (each weight its own tensor, as training needs
/// for its variables) or concatenated into one matrix per input (one larger product instead of
/// three or two smaller ones: faster inference).
enum Projections {
    Separate {
        q: Linear,
        k: Linear,
        v: Linear,
        gate: Linear,
        up: Linear,
    },
    Fused {
        /// `[q; k; v]` rows.
        qkv: Linear,
        /// `[gate; up]` rows.
        gate_up: Linear,
    },
}

/// A projection `x · wᵀ`. Inference models keep `wᵀ` contiguous (`[in, out]`), which candle's
/// CPU matrix product runs 5-30% faster than a transposed view of `[out, in]`; training keeps
/// the given `[out, in]` tensor (a variable) and multiplies by its transposed view.
struct Linear {
    weight: Tensor,
    transposed: bool,
    /// A low-rank branch added to the output (separate layouts only).
    low_rank: Option<LowRank>,
}

impl Linear {
    fn new(w: Tensor, for_inference: bool) -> candle_core::Result<Linear> {
        Ok(if for_inference {
            Linear {
                weight: w.t()?.contiguous()?,
                transposed: true,
                low_rank: None,
            }
        } else {
            Linear {
                weight: w,
                transposed: false,
                low_rank: None,
            }
        })
    }

    fn forward(&self, x: &Tensor, dropout: Option<&DropoutStream>) -> candle_core::Result<Tensor> {
        let base = self.forward_base(x)?;
        match &self.low_rank {
            None => Ok(base),
            Some(branch) => {
                let delta = branch
                    .forward(x, dropout)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                let dtype = base.dtype();
                base + delta.to_dtype(dtype)?
            }
        }
    }

    fn forward_base(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.transposed {
            let dims = x.dims();
            let inner = dims[dims.len() - 1];
            let outer: usize = dims[..dims.len() - 1].iter().product();
            let y = x.reshape((outer, inner))?.matmul(&self.weight)?;
            let mut shape = dims.to_vec();
            let last = shape.len() - 1;
            shape[last] = self.weight.dim(1)?;
            y.reshape(shape)
        } else {
            linear(x, &self.weight)
        }
    }
}

/// What every decoder layer needs for one batch: the rotary tables of its positions and its
/// attention mask ([`Llama::decoder_inputs`]).
#[derive(Debug, Clone)]
pub struct DecoderInputs {
    cos: Tensor,
    sin: Tensor,
    mask: Option<Tensor>,
    /// What the CPU's fused ops need (`None`: compose candle's ops).
    fused: Option<FusedInputs>,
}

/// The CPU's fused kernels' view of a batch.
#[derive(Debug, Clone)]
struct FusedInputs {
    /// Per row and position: a real token.
    valid: Arc<Vec<bool>>,
    tables: Arc<RotaryTables>,
}

struct Block {
    attn_norm: Tensor,
    projections: Projections,
    o: Linear,
    mlp_norm: Tensor,
    down: Linear,
}

/// A Llama-3.x causal language model.
///
/// Weights come from [`crate::load_model`] (safetensors, the hub, GGUF; through a hook with
/// [`crate::load_model_with`]) or any tensor source through [`Llama::from_weights`]. Outputs are hidden states ([`Llama::forward`] and friends)
/// that [`Llama::logits`] projects onto the vocabulary, so callers choose the positions whose
/// logits they pay for.
pub struct Llama {
    config: LlamaConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    lm_head: Tensor,
    inv_freq: Vec<f32>,
    kernels: Kernels,
    /// The kernels the model was built with, which fixed its weight layout.
    layout: Kernels,
    prefill_chunk: usize,
    dtype: DType,
    device: Device,
    /// Where low-rank dropout masks come from; `None`: no dropout (evaluation).
    dropout: Option<DropoutStream>,
}

/// The tensors a Llama model needs, by Hugging Face name, with their shapes.
///
/// `lm_head.weight` is listed only for untied output embeddings.
pub fn weight_shapes(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (h, d) = (c.hidden_size, c.head_dim);
    let q = c.num_attention_heads * d;
    let kv = c.num_key_value_heads * d;
    let f = c.intermediate_size;
    let mut out = vec![(
        "model.embed_tokens.weight".to_owned(),
        vec![c.vocab_size, h],
    )];
    for i in 0..c.num_hidden_layers {
        let p = format!("model.layers.{i}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
        out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![f, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![f, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, f]));
    }
    out.push(("model.norm.weight".to_owned(), vec![h]));
    if !c.tie_word_embeddings {
        out.push(("lm_head.weight".to_owned(), vec![c.vocab_size, h]));
    }
    out
}

fn candle(context: &str) -> impl FnOnce(candle_core::Error) -> Error + '_ {
    move |source| Error::Candle {
        context: context.to_owned(),
        source,
    }
}

impl Llama {
    /// Builds a model from a source of tensors: `get(name, shape)` returns the tensor of that
    /// Hugging Face name (see [`weight_shapes`]), already of `dtype` on `device`. Shapes are
    /// checked again here.
    ///
    /// `get` is called once per name of [`weight_shapes`], in that order. A tensor it cannot
    /// find is best reported as [`Error::MissingTensor`].
    ///
    /// With [`Kernels::Fused`] the q/k/v and gate/up weights are concatenated into one matrix
    /// each and all projections are stored transposed (faster products; the given projection
    /// tensors are not kept, so variables passed in are not trained through such a model, and
    /// it cannot switch to differentiable kernels later: see [`Kernels`]). With
    /// [`Kernels::Differentiable`] every tensor is kept as given: the model computes with the
    /// very tensors `get` returned, so gradients reach the variables among them.
    pub fn from_weights(
        config: LlamaConfig,
        dtype: DType,
        device: &Device,
        kernels: Kernels,
        get: &mut dyn FnMut(&str, &[usize]) -> Result<Tensor>,
    ) -> Result<Llama> {
        config.validate().map_err(|message| Error::Config {
            origin: "model config".into(),
            message,
        })?;
        if !matches!(dtype, DType::F32 | DType::BF16 | DType::F16 | DType::F64) {
            return Err(Error::Input(format!(
                "model dtype {dtype:?} is not supported (f32, bf16, f16, f64)"
            )));
        }
        let shapes = weight_shapes(&config);
        let mut tensors = std::collections::HashMap::new();
        for (name, shape) in &shapes {
            let t = get(name, shape)?;
            if t.dims() != shape.as_slice() {
                return Err(Error::TensorShape {
                    name: name.clone(),
                    origin: "weights".into(),
                    expected: shape.clone(),
                    found: t.dims().to_vec(),
                });
            }
            if t.dtype() != dtype {
                return Err(Error::Input(format!(
                    "tensor {name} is {:?}, the model is {dtype:?}",
                    t.dtype()
                )));
            }
            tensors.insert(name.clone(), t);
        }
        let mut take = |name: &str| {
            tensors.remove(name).ok_or_else(|| Error::MissingTensor {
                name: name.to_owned(),
                origin: "weights".into(),
            })
        };
        let embed = take("model.embed_tokens.weight")?;
        let mut blocks = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let q = take(&format!("{p}.self_attn.q_proj.weight"))?;
            let k = take(&format!("{p}.self_attn.k_proj.weight"))?;
            let v = take(&format!("{p}.self_attn.v_proj.weight"))?;
            let gate = take(&format!("{p}.mlp.gate_proj.weight"))?;
            let up = take(&format!("{p}.mlp.up_proj.weight"))?;
            let inference = kernels == Kernels::Fused;
            let projections = if inference {
                let fuse = || -> candle_core::Result<Projections> {
                    Ok(Projections::Fused {
                        qkv: Linear::new(Tensor::cat(&[&q, &k, &v], 0)?, true)?,
                        gate_up: Linear::new(Tensor::cat(&[&gate, &up], 0)?, true)?,
                    })
                };
                fuse().map_err(candle("concatenating projections"))?
            } else {
                Projections::Separate {
                    q: Linear::new(q, false).map_err(candle("weights"))?,
                    k: Linear::new(k, false).map_err(candle("weights"))?,
                    v: Linear::new(v, false).map_err(candle("weights"))?,
                    gate: Linear::new(gate, false).map_err(candle("weights"))?,
                    up: Linear::new(up, false).map_err(candle("weights"))?,
                }
            };
            let o = take(&format!("{p}.self_attn.o_proj.weight"))?;
            let down = take(&format!("{p}.mlp.down_proj.weight"))?;
            blocks.push(Block {
                attn_norm: take(&format!("{p}.input_layernorm.weight"))?,
                projections,
                o: Linear::new(o, inference).map_err(candle("transposing weights"))?,
                mlp_norm: take(&format!("{p}.post_attention_layernorm.weight"))?,
                down: Linear::new(down, inference).map_err(candle("transposing weights"))?,
            });
        }
        let norm = take("model.norm.weight")?;
        let lm_head = if config.tie_word_embeddings {
            embed.clone()
        } else {
            take("lm_head.weight")?
        };
        Ok(Llama {
            inv_freq: config.inverse_frequencies(),
            config,
            embed,
            blocks,
            norm,
            lm_head,
            kernels,
            layout: kernels,
            prefill_chunk: 256,
            dtype,
            device: device.clone(),
            dropout: None,
        })
    }

    /// A model with weights drawn from a [`candle_nn::VarBuilder`] (for example a
    /// [`candle_nn::VarMap`] for training): normal init with standard deviation `std`, norm
    /// weights around one.
    pub fn from_var_builder(
        config: LlamaConfig,
        vb: &candle_nn::VarBuilder<'_>,
        kernels: Kernels,
        std: f64,
    ) -> Result<Llama> {
        let dtype = vb.dtype();
        let device = vb.device().clone();
        Self::from_weights(config, dtype, &device, kernels, &mut |name, shape| {
            let init = if shape.len() == 1 {
                candle_nn::Init::Randn {
                    mean: 1.0,
                    stdev: std,
                }
            } else {
                candle_nn::Init::Randn {
                    mean: 0.0,
                    stdev: std,
                }
            };
            vb.get_with_hints(shape, name, init).map_err(|source| {
                if is_missing_tensor(&source) {
                    Error::MissingTensor {
                        name: name.to_owned(),
                        origin: "var builder".into(),
                    }
                } else {
                    candle("drawing weights")(source)
                }
            })
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// The dtype of weights and activations.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The kernels in use.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The kernels the model was built with, which fixed its weight layout (see [`Kernels`]):
    /// `Fused` for fused, transposed copies of the weights, `Differentiable` for the weights as
    /// given.
    pub fn weight_layout(&self) -> Kernels {
        self.layout
    }

    /// Switches kernels (weights are shared, nothing is copied; the weight layout chosen at
    /// construction stays).
    ///
    /// A model built with [`Kernels::Differentiable`] may switch both ways. A model built with
    /// [`Kernels::Fused`] holds fused, transposed copies of its weights, which an optimizer
    /// never updates: switching it to `Differentiable` is [`Error::FusedWeightLayout`] (build
    /// the model with `Differentiable` to train it); switching it to `Fused` is a no-op.
    ///
    /// ```
    /// use indievalue_llm::{DType, Device, Error, Kernels, Llama, LlamaConfig};
    /// let config = LlamaConfig::from_json_str(r#"{"hidden_size": 16, "intermediate_size": 32,
    ///     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
    ///     "vocab_size": 10, "rms_norm_eps": 1e-5}"#, "inline").unwrap();
    /// let varmap = candle_nn::VarMap::new();
    /// let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    /// let mut fused = Llama::from_var_builder(config.clone(), &vb, Kernels::Fused, 0.1).unwrap();
    /// assert!(matches!(
    ///     fused.set_kernels(Kernels::Differentiable),
    ///     Err(Error::FusedWeightLayout)
    /// ));
    /// let mut trainable = Llama::from_var_builder(config, &vb, Kernels::Differentiable, 0.1).unwrap();
    /// trainable.set_kernels(Kernels::Fused).unwrap();
    /// trainable.set_kernels(Kernels::Differentiable).unwrap();
    /// ```
    pub fn set_kernels(&mut self, kernels: Kernels) -> Result<()> {
        if self.layout == Kernels::Fused && kernels == Kernels::Differentiable {
            return Err(Error::FusedWeightLayout);
        }
        self.kernels = kernels;
        Ok(())
    }

    fn projection_mut(&mut self, layer: usize, projection: Projection) -> Result<&mut Linear> {
        let layers = self.blocks.len();
        let block = self.blocks.get_mut(layer).ok_or_else(|| {
            Error::Input(format!(
                "layer {layer} out of range (the model has {layers})"
            ))
        })?;
        match (&mut block.projections, projection) {
            (_, Projection::O) => Ok(&mut block.o),
            (_, Projection::Down) => Ok(&mut block.down),
            (Projections::Separate { q, .. }, Projection::Q) => Ok(q),
            (Projections::Separate { k, .. }, Projection::K) => Ok(k),
            (Projections::Separate { v, .. }, Projection::V) => Ok(v),
            (Projections::Separate { gate, .. }, Projection::Gate) => Ok(gate),
            (Projections::Separate { up, .. }, Projection::Up) => Ok(up),
            (Projections::Fused { .. }, _) => Err(Error::FusedWeightLayout),
        }
    }

    /// The base weight `[out, in]` of a projection (separate layouts only).
    pub fn projection_weight(&self, layer: usize, projection: Projection) -> Result<Tensor> {
        if self.layout == Kernels::Fused {
            return Err(Error::FusedWeightLayout);
        }
        let block = self
            .blocks
            .get(layer)
            .ok_or_else(|| Error::Input(format!("layer {layer} out of range")))?;
        let linear = match (&block.projections, projection) {
            (_, Projection::O) => &block.o,
            (_, Projection::Down) => &block.down,
            (Projections::Separate { q, .. }, Projection::Q) => q,
            (Projections::Separate { k, .. }, Projection::K) => k,
            (Projections::Separate { v, .. }, Projection::V) => v,
            (Projections::Separate { gate, .. }, Projection::Gate) => gate,
            (Projections::Separate { up, .. }, Projection::Up) => up,
            (Projections::Fused { .. }, _) => return Err(Error::FusedWeightLayout),
        };
        Ok(linear.weight.clone())
    }

    /// Adds (or, with `None`, removes) a low-rank branch on one projection of one layer. The
    /// model must have been built with separate weights ([`Kernels::Differentiable`]); the
    /// branch's shapes must fit the projection (`a` `[rank, in]`, `b` `[out, rank]`).
    pub fn set_low_rank(
        &mut self,
        layer: usize,
        projection: Projection,
        branch: Option<LowRank>,
    ) -> Result<()> {
        if self.layout == Kernels::Fused {
            return Err(Error::FusedWeightLayout);
        }
        let linear = self.projection_mut(layer, projection)?;
        if let Some(b) = &branch {
            let (out, inp) = linear.weight.dims2().map_err(candle("projection shape"))?;
            let (ra, ia) = b.a.dims2().map_err(candle("low-rank A shape"))?;
            let (ob, rb) = b.b.dims2().map_err(candle("low-rank B shape"))?;
            if ia != inp || ob != out || ra != rb {
                return Err(Error::TensorShape {
                    name: format!("model.layers.{layer}.{}", projection.path()),
                    origin: "low-rank branch".into(),
                    expected: vec![out, inp],
                    found: vec![ob, rb, ra, ia],
                });
            }
        }
        linear.low_rank = branch;
        Ok(())
    }

    /// The low-rank branch of a projection, if any.
    pub fn low_rank(&self, layer: usize, projection: Projection) -> Option<&LowRank> {
        let block = self.blocks.get(layer)?;
        match (&block.projections, projection) {
            (_, Projection::O) => block.o.low_rank.as_ref(),
            (_, Projection::Down) => block.down.low_rank.as_ref(),
            (Projections::Separate { q, .. }, Projection::Q) => q.low_rank.as_ref(),
            (Projections::Separate { k, .. }, Projection::K) => k.low_rank.as_ref(),
            (Projections::Separate { v, .. }, Projection::V) => v.low_rank.as_ref(),
            (Projections::Separate { gate, .. }, Projection::Gate) => gate.low_rank.as_ref(),
            (Projections::Separate { up, .. }, Projection::Up) => up.low_rank.as_ref(),
            (Projections::Fused { .. }, _) => None,
        }
    }

    /// Turns dropout of the low-rank branches on (training, masks drawn from `stream`) or off
    /// (`None`, the default).
    pub fn set_dropout_stream(&mut self, stream: Option<DropoutStream>) {
        self.dropout = stream;
    }

    /// Long inputs are run in chunks of this many tokens with [`Kernels::Fused`], so attention
    /// skips the masked upper triangle except inside each chunk (default 256).
    pub fn set_prefill_chunk(&mut self, tokens: usize) {
        self.prefill_chunk = tokens.max(1);
    }

    /// An empty cache for `rows` sequences.
    pub fn new_cache(&self, rows: usize) -> KvCache {
        KvCache::new(self.config.num_hidden_layers, rows)
    }

    /// Runs `batch` after what `cache` holds (an empty cache for a fresh start) and appends its
    /// keys and values there. Returns the final-norm hidden states `[rows, len, hidden]`.
    pub fn forward(&self, batch: &TokenBatch, cache: &mut KvCache) -> Result<Tensor> {
        if batch.rows() != cache.rows() {
            return Err(Error::Input(format!(
                "batch of {} rows on a cache of {} rows",
                batch.rows(),
                cache.rows()
            )));
        }
        if batch.is_empty() {
            return Err(Error::Input("empty batch".into()));
        }
        let chunk = match self.kernels {
            Kernels::Fused => self.prefill_chunk,
            Kernels::Differentiable => batch.len(),
        };
        let mut outputs = Vec::new();
        let mut start = 0;
        while start < batch.len() {
            let n = chunk.min(batch.len() - start);
            let part = if n == batch.len() {
                batch.clone()
            } else {
                batch.columns(start, n)
            };
            outputs.push(self.forward_chunk(&part, cache)?);
            start += n;
        }
        let hidden = if outputs.len() == 1 {
            outputs
                .pop()
                .ok_or_else(|| Error::Input("empty batch".into()))?
        } else {
            Tensor::cat(&outputs, 1).map_err(candle("joining chunks"))?
        };
        Ok(hidden)
    }

    /// Logits `[rows, len, vocab]` of every position of `batch` from scratch (no cache kept).
    pub fn forward_logits(&self, batch: &TokenBatch) -> Result<Tensor> {
        let mut cache = self.new_cache(batch.rows());
        let hidden = self.forward(batch, &mut cache)?;
        self.logits(&hidden)
    }

    /// Projects hidden states `[.., hidden]` onto the vocabulary: `[.., vocab]`.
    ///
    /// A frozen output matrix (not a variable) gets no gradient from a backward pass.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let logits = linear(hidden, &self.lm_head);
        logits.map_err(candle("output projection"))
    }

    /// Runs several continuations of one shared prefix: `prefix` is a one-row cache (left
    /// unchanged), `batch` holds the continuations (padded, usually on the right). The prefix's
    /// keys and values are read in place by all continuations together. Returns hidden states
    /// `[rows, len, hidden]`; equal to running prefix + continuation from scratch.
    pub fn forward_continuations(&self, prefix: &KvCache, batch: &TokenBatch) -> Result<Tensor> {
        if prefix.rows() != 1 || prefix.is_empty() {
            return Err(Error::Input(
                "a shared prefix is a non-empty cache of one row".into(),
            ));
        }
        if batch.is_empty() {
            return Err(Error::Input("empty batch".into()));
        }
        self.continuations(prefix, batch)
            .map_err(candle("continuations of a shared prefix"))
    }

    /// What every decoder layer needs to run `batch` from position 0 without a cache (rotary
    /// tables and attention mask), for the layer-by-layer pass of [`Llama::embed_tokens`],
    /// [`Llama::decoder_layer`] and [`Llama::final_norm`].
    ///
    /// That pass computes what [`Llama::forward`] computes on a fresh cache (up to summation
    /// order: on the CPU in f32 its attention is one fused op), one layer at a time, so a trainer can keep only layer inputs and recompute a layer in its backward pass
    /// (gradient checkpointing), or stop gradients between layers.
    ///
    /// ```
    /// use indievalue_llm::{DType, Device, Kernels, Llama, LlamaConfig, TokenBatch};
    /// let config = LlamaConfig::from_json_str(r#"{"hidden_size": 16, "intermediate_size": 32,
    ///     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
    ///     "vocab_size": 10, "rms_norm_eps": 1e-5}"#, "inline").unwrap();
    /// let varmap = candle_nn::VarMap::new();
    /// let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    /// let model = Llama::from_var_builder(config, &vb, Kernels::Differentiable, 0.1).unwrap();
    /// let batch = TokenBatch::right_padded(&[vec![1, 2, 3], vec![4, 5]], 0).unwrap();
    /// let inputs = model.decoder_inputs(&batch).unwrap();
    /// let mut x = model.embed_tokens(&batch).unwrap();
    /// for layer in 0..model.config().num_hidden_layers {
    ///     x = model.decoder_layer(layer, &x, &inputs, None).unwrap();
    /// }
    /// let layered = model.final_norm(&x).unwrap();
    /// let whole = model.forward(&batch, &mut model.new_cache(2)).unwrap();
    /// let diff = (layered - whole).unwrap().abs().unwrap().max_all().unwrap();
    /// assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    /// ```
    pub fn decoder_inputs(&self, batch: &TokenBatch) -> Result<DecoderInputs> {
        if batch.is_empty() {
            return Err(Error::Input("empty batch".into()));
        }
        let positions = self.new_cache(batch.rows()).advance(batch);
        let build = || -> candle_core::Result<DecoderInputs> {
            let (cos, sin) = self.rotary(&positions, batch.rows(), batch.len())?;
            let mask = self.mask(batch, 0, &|_, _| true)?;
            let probe = Tensor::zeros(1, self.dtype, &self.device)?;
            let fused = self.fused_cpu(&probe).then(|| FusedInputs {
                valid: Arc::new(batch.valid().to_vec()),
                tables: Arc::new(self.rotary_tables(&positions, batch.rows(), batch.len())),
            });
            Ok(DecoderInputs {
                cos,
                sin,
                mask,
                fused,
            })
        };
        build().map_err(candle("decoder inputs"))
    }

    /// The token embeddings of `batch`: `[rows, len, hidden]`.
    pub fn embed_tokens(&self, batch: &TokenBatch) -> Result<Tensor> {
        self.embed(batch).map_err(candle("embedding"))
    }

    /// Decoder layer `index` on hidden states `x` `[rows, len, hidden]` of the batch `inputs`
    /// was made for, with low-rank dropout masks drawn from `dropout` (`None`: no dropout).
    pub fn decoder_layer(
        &self,
        index: usize,
        x: &Tensor,
        inputs: &DecoderInputs,
        dropout: Option<&DropoutStream>,
    ) -> Result<Tensor> {
        let block = self.blocks.get(index).ok_or_else(|| {
            Error::Input(format!(
                "layer {index} out of range (the model has {})",
                self.blocks.len()
            ))
        })?;
        self.block_forward(block, x, inputs, None, dropout)
            .map(|(y, _)| y)
            .map_err(candle("decoder layer"))
    }

    /// The final RMS norm, on hidden states `[.., hidden]` (each position alone, so it may be
    /// applied to any subset of positions).
    pub fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        self.norm_with(x, &self.norm, true)
            .map_err(candle("final norm"))
    }

    fn embed(&self, batch: &TokenBatch) -> candle_core::Result<Tensor> {
        let vocab = self.config.vocab_size as u32;
        if let Some(bad) = batch.ids().iter().find(|&&id| id >= vocab) {
            candle_core::bail!("token id {bad} outside the vocabulary of {vocab}");
        }
        let ids = Tensor::from_slice(batch.ids(), (batch.ids().len(),), &self.device)?;
        self.embed.index_select(&ids, 0)?.reshape((
            batch.rows(),
            batch.len(),
            self.config.hidden_size,
        ))
    }

    /// cos and sin `[rows, len, head_dim / 2]` for the positions.
    fn rotary(
        &self,
        positions: &[u32],
        rows: usize,
        len: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let t = self.rotary_tables(positions, rows, len);
        let cos =
            Tensor::from_vec(t.cos, (rows, len, t.half), &self.device)?.to_dtype(self.dtype)?;
        let sin =
            Tensor::from_vec(t.sin, (rows, len, t.half), &self.device)?.to_dtype(self.dtype)?;
        Ok((cos, sin))
    }

    /// cos and sin of every position's angles, `[rows, len, head_dim / 2]` row-major.
    fn rotary_tables(&self, positions: &[u32], rows: usize, len: usize) -> RotaryTables {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for &p in positions {
            for &f in &self.inv_freq {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        RotaryTables {
            cos,
            sin,
            rows,
            len,
            half,
        }
    }

    /// Whether the CPU's fused differentiable ops serve tensors like `x`: differentiable
    /// kernels, on the CPU, in f32.
    fn fused_cpu(&self, x: &Tensor) -> bool {
        self.kernels == Kernels::Differentiable && x.device().is_cpu() && x.dtype() == DType::F32
    }

    /// The RMS norm, as the CPU's fused op when `fused` (see [`Llama::fused_cpu`]).
    fn norm_with(&self, x: &Tensor, w: &Tensor, fused: bool) -> candle_core::Result<Tensor> {
        if fused && self.fused_cpu(x) {
            let eps = self.config.rms_norm_eps as f32;
            return x.contiguous()?.apply_op2(w, RmsNorm { eps });
        }
        self.norm(x, w)
    }

    fn norm(&self, x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        let eps = self.config.rms_norm_eps as f32;
        match self.kernels {
            Kernels::Fused => candle_nn::ops::rms_norm(&x.contiguous()?, w, eps),
            Kernels::Differentiable => candle_nn::ops::rms_norm_slow(x, w, eps),
        }
    }

    fn softmax(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.kernels {
            Kernels::Fused => candle_nn::ops::softmax_last_dim(x),
            Kernels::Differentiable => candle_nn::ops::softmax(x, D::Minus1),
        }
    }

    fn rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
        match self.kernels {
            Kernels::Fused => candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin),
            Kernels::Differentiable => {
                // x·cos + rotate_half(x)·sin with per-row cos/sin [rows, len, d/2].
                let half = x.dim(D::Minus1)? / 2;
                let cos = Tensor::cat(&[cos, cos], D::Minus1)?.unsqueeze(1)?;
                let sin = Tensor::cat(&[sin, sin], D::Minus1)?.unsqueeze(1)?;
                let x1 = x.narrow(D::Minus1, 0, half)?;
                let x2 = x.narrow(D::Minus1, half, half)?;
                let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
                x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
            }
        }
    }

    /// Additive mask `[rows, 1, 1, len, keys]` for queries `batch` placed after `past` keys:
    /// a query sees earlier real tokens and itself.
    fn mask(
        &self,
        batch: &TokenBatch,
        past: usize,
        past_valid: &dyn Fn(usize, usize) -> bool,
    ) -> candle_core::Result<Option<Tensor>> {
        let (rows, n) = (batch.rows(), batch.len());
        let all_valid = batch.valid().iter().all(|&v| v)
            && (0..rows).all(|r| (0..past).all(|j| past_valid(r, j)));
        if n == 1 && all_valid {
            return Ok(None);
        }
        let keys = past + n;
        let mut mask = vec![0f32; rows * n * keys];
        for r in 0..rows {
            let own = batch.row_valid(r);
            for i in 0..n {
                let line = &mut mask[(r * n + i) * keys..(r * n + i + 1) * keys];
                for (j, m) in line.iter_mut().enumerate() {
                    let visible = if j < past {
                        past_valid(r, j)
                    } else {
                        let k = j - past;
                        k == i || (k < i && own[k])
                    };
                    if !visible {
                        *m = f32::NEG_INFINITY;
                    }
                }
            }
        }
        Tensor::from_vec(mask, (rows, 1, 1, n, keys), &self.device)?
            .to_dtype(self.dtype)
            .map(Some)
    }

    /// Queries, keys and values of one block, rotated: q `[rows, kv_heads, group·len, d]`
    /// (scaled), k and v `[rows, kv_heads, len, d]`.
    fn qkv(
        &self,
        block: &Block,
        h: &Tensor,
        inputs: &DecoderInputs,
        dropout: Option<&DropoutStream>,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let c = &self.config;
        let (rows, n, _) = h.dims3()?;
        let d = c.head_dim;
        let heads = |x: Tensor, count: usize| -> candle_core::Result<Tensor> {
            x.reshape((rows, n, count, d))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = match &block.projections {
            Projections::Separate { q, k, v, .. } => (
                q.forward(h, dropout)?,
                k.forward(h, dropout)?,
                v.forward(h, dropout)?,
            ),
            Projections::Fused { qkv, .. } => {
                let all = qkv.forward(h, None)?;
                let (nq, nkv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
                (
                    all.narrow(D::Minus1, 0, nq)?,
                    all.narrow(D::Minus1, nq, nkv)?,
                    all.narrow(D::Minus1, nq + nkv, nkv)?,
                )
            }
        };
        let rope = |x: Tensor| -> candle_core::Result<Tensor> {
            match &inputs.fused {
                Some(f) if self.fused_cpu(&x) => x.apply_op1(Rotary {
                    tables: f.tables.clone(),
                }),
                _ => self.rope(&x, &inputs.cos, &inputs.sin),
            }
        };
        let q = rope(heads(q, c.num_attention_heads)?)?;
        let k = rope(heads(k, c.num_key_value_heads)?)?;
        let v = heads(v, c.num_key_value_heads)?;
        let q = (q * (1.0 / (d as f64).sqrt()))?.reshape((
            rows,
            c.num_key_value_heads,
            c.group_size() * n,
            d,
        ))?;
        Ok((q, k, v))
    }

    fn masked_softmax(
        &self,
        scores: Tensor,
        mask: &Option<Tensor>,
        n: usize,
    ) -> candle_core::Result<Tensor> {
        let scores = match mask {
            None => scores,
            Some(m) => {
                let (rows, kvh, gn, keys) = scores.dims4()?;
                scores
                    .reshape((rows, kvh, gn / n, n, keys))?
                    .broadcast_add(m)?
                    .reshape((rows, kvh, gn, keys))?
            }
        };
        self.softmax(&scores)
    }

    /// Attention output `[rows, len, heads·d]` from grouped queries.
    fn merge_heads(&self, out: &Tensor, rows: usize, n: usize) -> candle_core::Result<Tensor> {
        let c = &self.config;
        out.reshape((rows, c.num_attention_heads, n, c.head_dim))?
            .transpose(1, 2)?
            .reshape((rows, n, c.num_attention_heads * c.head_dim))
    }

    fn mlp(
        &self,
        block: &Block,
        x: &Tensor,
        fused: bool,
        dropout: Option<&DropoutStream>,
    ) -> candle_core::Result<Tensor> {
        let h = self.norm_with(x, &block.mlp_norm, fused)?;
        let (gate, up) = match &block.projections {
            Projections::Separate { gate, up, .. } => {
                (gate.forward(&h, dropout)?, up.forward(&h, dropout)?)
            }
            Projections::Fused { gate_up, .. } => {
                let both = gate_up.forward(&h, None)?;
                let f = self.config.intermediate_size;
                (both.narrow(D::Minus1, 0, f)?, both.narrow(D::Minus1, f, f)?)
            }
        };
        let gate = gate.silu()?;
        x + block.down.forward(&(gate * up)?, dropout)?
    }

    fn forward_chunk(&self, batch: &TokenBatch, cache: &mut KvCache) -> Result<Tensor> {
        let past = cache.len();
        let mask = {
            let cache_ref = &*cache;
            self.mask(batch, past, &|r, j| cache_ref.key_valid(r, j))
                .map_err(candle("attention mask"))?
        };
        let positions = cache.advance(batch);
        self.chunk_layers(batch, &positions, &mask, cache)
            .map_err(candle("forward pass"))
    }

    fn chunk_layers(
        &self,
        batch: &TokenBatch,
        positions: &[u32],
        mask: &Option<Tensor>,
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let (rows, n) = (batch.rows(), batch.len());
        let (cos, sin) = self.rotary(positions, rows, n)?;
        let mut x = self.embed(batch)?;
        for (block, slot) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            let inputs = DecoderInputs {
                cos: cos.clone(),
                sin: sin.clone(),
                mask: mask.clone(),
                fused: None,
            };
            let (y, kv) =
                self.block_forward(block, &x, &inputs, slot.take(), self.dropout.as_ref())?;
            *slot = Some(kv);
            x = y;
        }
        self.norm(&x, &self.norm)
    }

    /// One decoder block on `x` `[rows, n, hidden]` after the keys and values `past` (if any):
    /// the block's output and its keys and values (past ones included).
    fn block_forward(
        &self,
        block: &Block,
        x: &Tensor,
        inputs: &DecoderInputs,
        past: Option<(Tensor, Tensor)>,
        dropout: Option<&DropoutStream>,
    ) -> candle_core::Result<(Tensor, (Tensor, Tensor))> {
        let (rows, n, _) = x.dims3()?;
        let fused = inputs.fused.is_some();
        let h = self.norm_with(x, &block.attn_norm, fused)?;
        let (q, k, v) = self.qkv(block, &h, inputs, dropout)?;
        let (k, v) = match past {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
        };
        let out = match &inputs.fused {
            Some(f) if self.fused_cpu(&q) && q.is_contiguous() => q.apply_op3(
                &k,
                &v,
                CausalAttention::new(f.valid.clone(), self.config.group_size()),
            )?,
            _ => {
                let scores = q.matmul(&k.t()?)?;
                let probs = self.masked_softmax(scores, &inputs.mask, n)?;
                probs.matmul(&v)?
            }
        };
        let attn = block
            .o
            .forward(&self.merge_heads(&out, rows, n)?, dropout)?;
        let x = (x + attn)?;
        Ok((self.mlp(block, &x, fused, dropout)?, (k, v)))
    }

    fn continuations(&self, prefix: &KvCache, batch: &TokenBatch) -> candle_core::Result<Tensor> {
        let (rows, n) = (batch.rows(), batch.len());
        let p = prefix.len();
        let c = &self.config;
        let (kvh, d) = (c.num_key_value_heads, c.head_dim);
        let gn = c.group_size() * n;
        let mut positions = Vec::with_capacity(rows * n);
        for r in 0..rows {
            let mut next = prefix.next_position(0);
            for &v in batch.row_valid(r) {
                positions.push(next);
                if v {
                    next += 1;
                }
            }
        }
        let (cos, sin) = self.rotary(&positions, rows, n)?;
        let prefix_valid: Vec<bool> = (0..p).map(|j| prefix.key_valid(0, j)).collect();
        let mask = self.mask(batch, p, &|_, j| prefix_valid[j])?;
        // Even a single query must not see the padding of other keys; mask() already returns
        // Some whenever anything is masked, and n == 1 with all valid needs none.
        let mut x = self.embed(batch)?;
        for (block, slot) in self.blocks.iter().zip(prefix.layers.iter()) {
            let Some((pk, pv)) = slot else {
                candle_core::bail!("the prefix cache has no keys for a layer");
            };
            let h = self.norm(&x, &block.attn_norm)?;
            let inputs = DecoderInputs {
                cos: cos.clone(),
                sin: sin.clone(),
                mask: None,
                fused: None,
            };
            let (q, k, v) = self.qkv(block, &h, &inputs, self.dropout.as_ref())?;
            // All continuations' queries against the prefix keys in one product:
            // [1, kvh, rows·gn, d] × [1, kvh, d, p].
            let q_all = q
                .transpose(0, 1)?
                .contiguous()?
                .reshape((1, kvh, rows * gn, d))?;
            let prefix_scores = q_all
                .matmul(&pk.t()?)?
                .reshape((kvh, rows, gn, p))?
                .transpose(0, 1)?
                // Contiguous before joining: candle joins contiguous tensors block by block,
                // strided ones element by element.
                .contiguous()?;
            let own_scores = q.matmul(&k.t()?)?;
            let scores = Tensor::cat(&[&prefix_scores, &own_scores], 3)?;
            let probs = self.masked_softmax(scores, &mask, n)?;
            let prefix_probs = probs
                .narrow(3, 0, p)?
                .transpose(0, 1)?
                .contiguous()?
                .reshape((1, kvh, rows * gn, p))?;
            let from_prefix = prefix_probs
                .matmul(pv)?
                .reshape((kvh, rows, gn, d))?
                .transpose(0, 1)?
                .contiguous()?;
            let from_own = probs.narrow(3, p, n)?.contiguous()?.matmul(&v)?;
            let out = (from_prefix + from_own)?;
            let attn = block
                .o
                .forward(&self.merge_heads(&out, rows, n)?, self.dropout.as_ref())?;
            x = (x + attn)?;
            x = self.mlp(block, &x, false, self.dropout.as_ref())?;
        }
        self.norm(&x, &self.norm)
    }
}

/// Whether a candle error says a tensor is not there (possibly wrapped in context).
fn is_missing_tensor(e: &candle_core::Error) -> bool {
    use candle_core::Error as E;
    match e {
        E::CannotFindTensor { .. } => true,
        E::WithBacktrace { inner, .. } | E::Context { inner, .. } | E::WithPath { inner, .. } => {
            is_missing_tensor(inner)
        }
        _ => false,
    }
}
