//! Prints the logits of every position of a token sequence as one JSON object, so any other
//! implementation (transformers, llama.cpp) can be checked against ours.
//!
//! ```text
//! cargo run --release --example llm_logits -- --model .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --text "The quick brown fox" --json > logits.json
//! cargo run --release --example llm_logits -- --model fixtures/llm/tiny-llama31 --tokens 1,2,3 --json
//! cargo run --release --example llm_logits -- --model meta-llama/Llama-3.1-8B-Instruct --dtype bf16 --text "Hi" --json
//! ```
//!
//! Without `--json` it prints the five most likely next tokens of every position instead.

use anyhow::{Context, Result, bail};
#[path = "common/model_args.rs"]
mod common;

use clap::Parser;
use indievalue::llm::TokenBatch;
use std::io::Write;

#[derive(Parser)]
#[command(about = "Logits of every position of a token sequence")]
struct Args {
    #[command(flatten)]
    model: common::ModelArgs,
    #[command(flatten)]
    adapter: common::AdapterArg,
    /// Comma-separated token ids.
    #[arg(long, conflicts_with = "text")]
    tokens: Option<String>,
    /// Text to tokenize with the model's tokenizer (special tokens written in it are recognised,
    /// none is added).
    #[arg(long)]
    text: Option<String>,
    /// Print all logits as JSON: {"tokens": [...], "logits": [[...] per position]}.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let loaded = args.model.load(args.adapter.adapter.as_deref())?;
    let tokens: Vec<u32> = match (&args.tokens, &args.text) {
        (Some(list), _) => list
            .split(',')
            .map(|t| t.trim().parse::<u32>().with_context(|| format!("token id {t:?}")))
            .collect::<Result<_>>()?,
        (None, Some(text)) => match &loaded.tokenizer {
            Some(tok) => tok.encode(text)?,
            None => bail!("{} has no tokenizer; pass --tokens", args.model.model),
        },
        (None, None) => bail!("pass --tokens 1,2,3 or --text \"...\""),
    };
    if tokens.is_empty() {
        bail!("no tokens");
    }
    let logits = loaded
        .model
        .forward_logits(&TokenBatch::single(&tokens))?
        .squeeze(0)?
        .to_dtype(indievalue::llm::DType::F32)?
        .to_vec2::<f32>()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"model": args.model.model, "dtype": args.model.dtype, "tokens": tokens, "logits": logits}),
        )?;
        writeln!(out)?;
    } else {
        for (i, row) in logits.iter().enumerate() {
            let mut idx: Vec<usize> = (0..row.len()).collect();
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let top: Vec<String> = idx[..5.min(idx.len())]
                .iter()
                .map(|&t| match &loaded.tokenizer {
                    Some(tok) => {
                        format!("{:?} {:.2}", tok.decode(&[t as u32]).unwrap_or_default(), row[t])
                    }
                    None => format!("{t} {:.2}", row[t]),
                })
                .collect();
            writeln!(out, "{i:>4} token {:>6}: {}", tokens[i], top.join(", "))?;
        }
    }
    Ok(())
}
