//! The model flags shared by the examples that load a local language model (`probe`,
//! `consistency`, `llm_logits`): one definition, one loading path.

use anyhow::Context;
use indievalue::llm::{
    LoadOptions, LoadedModel, ModelSource, device_from_name, load_model, parse_dtype,
};

/// Which model to load, where, and in what precision.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: a safetensors directory, a .gguf file, or a hub id owner/name[@revision].
    #[arg(long)]
    pub model: String,
    /// cpu, cuda or cuda:N (cuda needs the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

impl ModelArgs {
    /// Loads the model with its tokenizer and chat template.
    pub fn load(&self) -> anyhow::Result<LoadedModel> {
        let options = LoadOptions {
            dtype: parse_dtype(&self.dtype)?,
            device: device_from_name(&self.device)?,
            ..LoadOptions::default()
        };
        load_model(&ModelSource::parse(&self.model), &options)
            .with_context(|| format!("loading {}", self.model))
    }
}
