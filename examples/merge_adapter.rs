//! Merges a PEFT LoRA adapter into its base model and writes a Hugging Face model directory
//! (`model.safetensors`, sharded past 5 GB, `config.json`, the tokenizer's files) that
//! transformers and our loader both open. From a GGUF base, `config.json` and
//! `tokenizer.json` are written from the GGUF metadata. Without `--adapter` it converts the
//! base alone (a GGUF file into a safetensors directory, say).
//!
//! ```text
//! cargo run --release --example merge_adapter -- --model DIR|FILE.gguf|HUB_ID --adapter DIR \
//!     --out DIR [--dtype f32|bf16|f16] [--max-shard-bytes 5000000000]
//! ```

#[path = "common/model_args.rs"]
mod common;

use anyhow::Context;
use clap::Parser;
use indievalue::finetune::export::{MAX_SHARD_BYTES, export_model};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    about = "Merge a PEFT LoRA adapter into its base and write a Hugging Face model directory"
)]
struct Args {
    #[command(flatten)]
    model: common::ModelArgs,
    /// The PEFT adapter (adapter_config.json, adapter_model.safetensors); none: the base alone.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// The model directory to write.
    #[arg(long)]
    out: PathBuf,
    /// Largest weight file; bigger models are sharded with model.safetensors.index.json.
    #[arg(long, default_value_t = MAX_SHARD_BYTES)]
    max_shard_bytes: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (source, options) = args.model.options()?;
    let adapter = args.adapter.as_deref();
    let report = export_model(&source, &options, adapter, &args.out, args.max_shard_bytes)
        .with_context(|| format!("exporting {}", args.model.model))?;
    println!(
        "{} tensors ({:.2} GB, {} with the adapter merged) written to {}:",
        report.tensors,
        report.weight_bytes as f64 / 1e9,
        report.merged,
        args.out.display()
    );
    for f in &report.files {
        println!("  {}", f.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()));
    }
    Ok(())
}
