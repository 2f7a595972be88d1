//! Fine-tunes a Llama-3.x model (LoRA or full) on supervised JSON Lines examples, with the
//! arithmetic of PyTorch + PEFT + the Hugging Face Trainer; resumable.
//!
//! ```text
//! cargo run --release --example finetune -- --model DIR|FILE.gguf|HUB_ID --train train.jsonl \
//!     --out runs/lora [--eval eval.jsonl] [--full | --lora-r 16 --lora-alpha 32 --lora-dropout 0.05 \
//!     --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj --use-rslora] \
//!     [--init-adapter DIR] --lr 2e-4 (--max-steps N | --epochs 1) --batch-size 1 [--grad-accum 8] \
//!     [--warmup-ratio 0.03] [--weight-decay 0] [--max-grad-norm 1] [--max-seq-len 4096] [--seed 0] \
//!     [--no-shuffle] [--save-every 100] [--eval-every 50] [--resume] [--dtype f32] [--device cpu]
//! ```
//!
//! Writes `OUT/metrics.jsonl`, `OUT/checkpoint-STEP/`, `OUT/run.json`, `OUT/loss_curve.{png,svg}`
//! and the result: a PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`) or, with
//! `--full`, `model.safetensors` (+ `config.json`). Formats: `docs/formats.md`.

#[path = "common/model_args.rs"]
mod common;
#[path = "common/train_args.rs"]
mod train_args;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::files::{create_dir_all, sha256_file, write_json_atomic};
use indievalue::finetune::{
    Formatter, LoraAdapter, Trainable, Trainer, load_for_training, loss_curves, read_examples,
};
use serde::Serialize;
use std::path::PathBuf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Serialize)]
#[command(about = "LoRA or full fine-tuning of a Llama-3.x model")]
struct Args {
    #[command(flatten)]
    #[serde(flatten)]
    model: common::ModelArgs,
    /// Training examples (JSON Lines: messages, prompt/completion or input_ids/labels).
    #[arg(long)]
    train: PathBuf,
    /// Held-out examples (loss at step 0, every --eval-every steps and at the end).
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Train every weight instead of a LoRA adapter.
    #[arg(long, conflicts_with_all = ["lora_r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "init_adapter"])]
    full: bool,
    /// Start from this adapter (its r, alpha, targets and rsLoRA; conflicting flags are errors).
    #[arg(long)]
    init_adapter: Option<PathBuf>,
    /// Continue from the newest complete checkpoint in --out.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    #[serde(flatten)]
    training: train_args::TrainArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (source, options) = args.model.options()?;
    let t = &args.training;
    let name = args.model.model.clone();
    let (mut loaded, vars) = load_for_training(&source, &options, args.full)
        .with_context(|| format!("loading {name}"))?;
    let formatter = loaded.tokenizer.as_ref().map(|tokenizer| Formatter {
        tokenizer,
        chat_template: &loaded.chat_template,
        eos: loaded.stop_tokens.first().copied(),
    });
    let train = read_examples(&args.train, formatter.as_ref(), t.max_seq_len)?;
    let eval = args.eval.as_deref().map(|p| read_examples(p, formatter.as_ref(), t.max_seq_len));
    let eval = eval.transpose()?.unwrap_or_default();
    let trainable = if args.full {
        Trainable::Full(vars)
    } else {
        let init = args.init_adapter.as_deref();
        Trainable::Lora(LoraAdapter::start(&loaded.model, init, &t.lora()?, t.seed)?)
    };
    let config = t.config();
    let eval_hash = args.eval.as_deref().map(sha256_file).transpose()?;
    let manifest = serde_json::json!({
        "args": &args,
        "seed": t.seed,
        "data": { "train": sha256_file(&args.train)?, "eval": eval_hash },
        "examples": { "train": train.examples.len(), "eval": eval.examples.len() },
        "skipped_too_long": { "train": train.skipped_too_long, "eval": eval.skipped_too_long },
        "model": { "source": name, "files": loaded.files },
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    create_dir_all(&args.out)?;
    write_json_atomic(&args.out.join("run.json"), &manifest)?;
    let mut trainer = Trainer::new(&mut loaded.model, trainable, config, &args.out)?;
    let (_, total, warmup) = trainer.schedule(train.examples.len());
    let skipped = train.skipped_too_long;
    eprintln!(
        "{} examples ({skipped} too long, skipped), {total} steps, warmup {warmup}",
        train.examples.len()
    );
    let bar = ProgressBar::new(total);
    let style = "{bar:30} step {pos}/{len} {elapsed_precise} eta {eta} {msg}";
    bar.set_style(
        ProgressStyle::with_template(style).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let outcome = trainer.train(&train.examples, &eval.examples, args.resume, &mut |log, _| {
        bar.set_position(log.step);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} {:.0} tok/s",
            log.loss, log.lr, log.tokens_per_s
        ));
    })?;
    bar.finish();
    let source_config = PathBuf::from(&name).join("config.json");
    trainer.trainable().save(&args.out, &name, Some(&source_config))?;
    let (steps, evals) = loss_curves(&args.out)?;
    let fmt = |p: Option<&(f64, f64)>| p.map_or("-".into(), |v| format!("{:.4}", v.1));
    let (first, last) = (fmt(evals.first()), fmt(evals.last()));
    let series = [("training loss".to_owned(), steps), ("held-out loss".to_owned(), evals)];
    indievalue::metrics::plots::loss_curve(
        args.out.join("loss_curve"),
        "Fine-tuning loss",
        &series,
    )?;
    let (done, from, loss) =
        (outcome.steps, outcome.resumed_from, outcome.last_loss.unwrap_or(f64::NAN));
    println!(
        "{done} steps (resumed from {from}), last loss {loss:.4}; held-out loss {first} -> {last}"
    );
    println!("written to {}", args.out.display());
    Ok(())
}
