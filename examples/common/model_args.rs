//! The model flags shared by the examples that load a local language model (`probe`,
//! `consistency`, `llm_logits`): one definition, one loading path.

use anyhow::Context;
use indievalue::llm::{
    LoadOptions, LoadedModel, ModelSource, device_from_name, load_model, parse_dtype,
};

/// Which model to load, where, and in what precision.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct ModelArgs {
    /// Model: a safetensors directory, a .gguf file, or a hub id owner/name[@revision].
    #[arg(long)]
    pub model: String,
    /// cpu, cuda or cuda:N (cuda needs the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// f32, bf16 or f16 (for training: compute; masters and moments stay f32).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// `--adapter DIR`: a PEFT LoRA adapter merged into the model's weights when it loads.
#[derive(clap::Args, Debug, Clone)]
#[allow(dead_code)]
pub struct AdapterArg {
    /// A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors).
    #[arg(long)]
    pub adapter: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// The source and load options (dtype, device) the flags name.
    #[allow(dead_code)] // not every example that includes this module loads for training
    pub fn options(&self) -> anyhow::Result<(ModelSource, LoadOptions)> {
        let options = LoadOptions {
            dtype: parse_dtype(&self.dtype)?,
            device: device_from_name(&self.device)?,
            ..LoadOptions::default()
        };
        Ok((ModelSource::parse(&self.model), options))
    }

    /// Loads the model with its tokenizer and chat template for inference, with the PEFT adapter
    /// of `--adapter` merged into its weights when given.
    #[allow(dead_code)]
    pub fn load(&self, adapter: Option<&std::path::Path>) -> anyhow::Result<LoadedModel> {
        let (source, options) = self.options()?;
        let context = || format!("loading {}", self.model);
        match adapter {
            None => load_model(&source, &options).with_context(context),
            Some(dir) => indievalue::finetune::load_with_adapter(&source, &options, dir)
                .with_context(context),
        }
    }

    /// Loads the model for inference like [`ModelArgs::load`], says how long it took, and gives
    /// the parameters that identify it in a run's header (model, files, dtype, device, and the
    /// adapter with its SHA-256).
    #[allow(dead_code)]
    pub fn load_reporting(
        &self,
        adapter: Option<&std::path::Path>,
    ) -> anyhow::Result<(LoadedModel, serde_json::Value)> {
        let started = std::time::Instant::now();
        let model = self.load(adapter)?;
        eprintln!(
            "model {} loaded in {:.1} s ({} layers, {} on {})",
            self.model,
            started.elapsed().as_secs_f64(),
            model.model.config().num_hidden_layers,
            self.dtype,
            self.device
        );
        let mut params = serde_json::json!({
            "model": self.model, "model_files": model.files, "dtype": self.dtype,
            "device": self.device,
        });
        if let Some(dir) = adapter {
            let sha256 = indievalue::files::sha256_file(&dir.join("adapter_model.safetensors"))?;
            params["adapter"] = serde_json::json!({ "dir": dir, "sha256": sha256 });
        }
        Ok((model, params))
    }
}
