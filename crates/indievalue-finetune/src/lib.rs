//! # indievalue-finetune
//!
//! Fine-tuning of `indievalue-llm`'s Llama on supervised examples, with the arithmetic of
//! PyTorch, the Hugging Face Trainer and PEFT (pinned by `fixtures/finetune`, made by
//! `scripts/make_trainer_parity_fixture.py`). It knows nothing of surveys.
//!
//! - [`read_examples`]: `messages` (chat template, loss on assistant turns), `prompt` /
//!   `completion`, or pre-tokenized `input_ids` / `labels` JSON Lines; left truncation keeping
//!   the supervised tail; skipped examples counted.
//! - [`LoraAdapter`]: LoRA with PEFT's semantics, initialisation and file layout (save, load).
//! - [`Trainer`]: gradient accumulation with the loss divided by the supervised tokens of the
//!   whole step, clipping by global norm, AdamW with f32 moments and masters, the linear
//!   schedule with warmup, `metrics.jsonl`, held-out loss, atomic checkpoints and resume.
//!
//! ```
//! use indievalue_finetune::{SupervisedExample, TrainConfig, Trainable, Trainer, LoraAdapter, LoraConfig};
//! use indievalue_llm::{DType, Device, Kernels, Llama, LlamaConfig};
//! let config = LlamaConfig::from_json_str(r#"{"hidden_size": 16, "intermediate_size": 32,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
//!     "vocab_size": 10, "rms_norm_eps": 1e-5}"#, "inline").unwrap();
//! let varmap = candle_nn::VarMap::new();
//! let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let mut model = Llama::from_var_builder(config, &vb, Kernels::Differentiable, 0.1).unwrap();
//! let adapter = LoraAdapter::new(&model, LoraConfig { r: 2, ..LoraConfig::default() }, 0).unwrap();
//! let train = vec![SupervisedExample { input_ids: vec![1, 2, 3, 4], labels: vec![-100, -100, 3, 4] }];
//! let dir = tempfile::tempdir().unwrap();
//! let mut config = TrainConfig { max_steps: Some(3), ..TrainConfig::default() };
//! config.optimizer.lr = 1e-2;
//! let mut trainer = Trainer::new(&mut model, Trainable::Lora(adapter), config, dir.path()).unwrap();
//! let outcome = trainer.train(&train, &[], false, &mut |_, _| {}).unwrap();
//! assert_eq!(outcome.steps, 3);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

#[cfg(feature = "cuda")]
mod cuda_memory;
mod data;
pub mod export;
mod lora;
mod loss;
pub mod memory;
mod optim;
mod pass;
pub mod plan;
mod tensors;
mod trainer;

pub use data::{
    Formatter, IGNORE_INDEX, LoadedExamples, SupervisedExample, conversation, prompt_completion,
    read_examples,
};
pub use lora::{
    ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, AdapterMerge, LoraAdapter, LoraConfig,
    LoraOverrides, load_with_adapter, peft_key, read_config,
};
pub use loss::summed_loss;
pub use optim::{
    AdamWConfig, Param, adamw_step, clip_factor, decays, linear_schedule, warmup_steps,
};
pub use pass::{LayerDropout, PassOptions, forward_backward, summed_loss_no_grad};
pub use tensors::{read_safetensors, write_safetensors};
pub use trainer::{
    CHECKPOINT_MARKER, EvalLog, LossCurve, METRICS_FILE, MetricsLine, StepLog, TrainConfig,
    TrainOutcome, Trainable, Trainer, load_for_training, loss_curves, newest_checkpoint,
};

use std::path::PathBuf;

/// Errors of fine-tuning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line of an examples file is not a usable example.
    #[error("{path}, line {line}: {message}")]
    Example {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An adapter does not fit (configuration, tensor names or shapes, target modules).
    #[error("{what}: {message}")]
    Adapter {
        /// The file or tensor.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A weights file cannot be read or written.
    #[error("{path}: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Settings that cannot train (or resume).
    #[error("training: {0}")]
    Config(String),
    /// A tensor operation failed.
    #[error("{context}: {source}")]
    Tensor {
        /// What was being done.
        context: &'static str,
        /// The cause.
        source: candle_core::Error,
    },
    /// The model layer failed.
    #[error(transparent)]
    Model(#[from] indievalue_llm::Error),
    /// A file could not be written or read.
    #[error(transparent)]
    Files(#[from] indievalue_files::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
