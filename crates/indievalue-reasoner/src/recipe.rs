//! What a reasoner is trained on and how.

use crate::Result;
use indievalue_finetune::{AdamWConfig, LoraConfig, LoraOverrides, TrainConfig};
use indievalue_sampling::TrainingRecipe;
use serde::{Deserialize, Serialize};

/// The shape of a LoRA adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraRecipe {
    /// Rank.
    pub r: usize,
    /// Alpha (the update is scaled by `alpha / r`).
    pub alpha: f64,
    /// Dropout on the adapter's input while training.
    pub dropout: f64,
    /// Adapted projections, by Hugging Face name (`q_proj`, ..., `down_proj`).
    pub targets: Vec<String>,
}

impl LoraRecipe {
    /// The trainer's form of this shape.
    pub fn overrides(&self) -> Result<LoraOverrides> {
        let targets = LoraConfig::parse_targets(&self.targets.join(","))?;
        Ok(LoraOverrides {
            r: Some(self.r),
            alpha: Some(self.alpha),
            dropout: Some(self.dropout),
            targets: Some(targets),
            use_rslora: false,
        })
    }
}

/// A reasoner's recipe: the training set, the trainer's settings, LoRA or full fine-tuning, and
/// the longest example. Serialised into the run directory: a rerun with another recipe is
/// refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonerRecipe {
    /// The Table 18 training set; `None` where the examples come from elsewhere (a consistency
    /// set's tasks, a file of conversations).
    pub training_set: Option<TrainingRecipe>,
    /// Optimizer, schedule, batch, checkpointing.
    pub train: TrainConfig,
    /// `None`: every weight is trained.
    pub lora: Option<LoraRecipe>,
    /// Longest example in tokens (longer prompts are cut from the left).
    pub max_seq_len: usize,
}

/// The seven projections of a Llama decoder layer.
const ALL_PROJECTIONS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

impl ReasonerRecipe {
    /// The paper's full fine-tuning (Table 17): lr 5e-6 with a linear schedule and 3 % warmup,
    /// weight decay 0, 2 epochs, 8 examples per optimizer step (batch 1 x 8 accumulated),
    /// 4,096 tokens at most, gradient checkpointing; clipping at norm 1 (the Hugging Face
    /// Trainer's default, which Table 17 does not change); a checkpoint every 100 steps.
    pub fn paper_full(training_set: TrainingRecipe) -> ReasonerRecipe {
        ReasonerRecipe::paper_settings(Some(training_set))
    }

    /// [`ReasonerRecipe::paper_full`]'s settings with `training_set` (or none).
    pub fn paper_settings(training_set: Option<TrainingRecipe>) -> ReasonerRecipe {
        ReasonerRecipe {
            training_set,
            train: TrainConfig {
                optimizer: AdamWConfig {
                    lr: 5e-6,
                    weight_decay: 0.0,
                    ..AdamWConfig::default()
                },
                batch_size: 1,
                grad_accum: 8,
                max_steps: None,
                epochs: 2.0,
                warmup_ratio: 0.03,
                max_grad_norm: Some(1.0),
                seed: 0,
                shuffle: true,
                save_every: Some(100),
                eval_every: None,
                loss_chunk: TrainConfig::default().loss_chunk,
                gradient_checkpointing: true,
            },
            lora: None,
            max_seq_len: 4096,
        }
    }

    /// Our LoRA recipe for one 80 GB GPU: Table 17's schedule, batch, epochs and length, with
    /// a rank-16 adapter (alpha 32, dropout 0.05) on all seven projections and lr 2e-4 (LoRA
    /// trains far fewer weights from a zero update and takes a learning rate some 40x full
    /// fine-tuning's; 2e-4 is the usual choice for 7-8B models). For Llama-3.1-8B in bf16 with
    /// checkpointing, `finetune --plan` puts a 4,096-token step at about 31 GiB.
    pub fn lora_one_gpu(training_set: TrainingRecipe) -> ReasonerRecipe {
        ReasonerRecipe::lora_settings(Some(training_set))
    }

    /// [`ReasonerRecipe::lora_one_gpu`]'s settings with `training_set` (or none).
    pub fn lora_settings(training_set: Option<TrainingRecipe>) -> ReasonerRecipe {
        let mut recipe = ReasonerRecipe::paper_settings(training_set);
        recipe.train.optimizer.lr = 2e-4;
        recipe.lora = Some(LoraRecipe {
            r: 16,
            alpha: 32.0,
            dropout: 0.05,
            targets: ALL_PROJECTIONS.iter().map(|s| (*s).to_owned()).collect(),
        });
        recipe
    }

    /// Whether every weight is trained.
    pub fn is_full(&self) -> bool {
        self.lora.is_none()
    }
}
