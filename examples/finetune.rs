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
//! `--full`, a Hugging Face model directory (weights, `config.json`, tokenizer files; from a GGUF
//! base written from its metadata). `--plan` prints the memory the run needs and trains nothing;
//! `--gradient-checkpointing` and `--loss-chunk` trade compute for memory. Formats:
//! `docs/formats.md`.

#[path = "common/model_args.rs"]
mod common;
#[path = "common/train_args.rs"]
mod train_args;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::files::{create_dir_all, sha256_file, write_json_atomic};
use indievalue::finetune::export::config_and_tokenizer;
use indievalue::finetune::plan::{PlanSpec, gib, plan};
use indievalue::finetune::{
    Formatter, LoraAdapter, Trainable, Trainer, load_for_training, loss_curves, read_examples,
};
use indievalue::llm::{HubOptions, ModelSource, read_model_config};
use serde::Serialize;
use std::path::PathBuf;

#[path = "common/allocator.rs"]
mod allocator;

#[derive(Parser, Serialize)]
#[command(about = "LoRA or full fine-tuning of a Llama-3.x model")]
struct Args {
    #[command(flatten)]
    #[serde(flatten)]
    model: common::ModelArgs,
    /// Training examples (JSON Lines: messages, prompt/completion or input_ids/labels).
    #[arg(long, required_unless_present = "plan")]
    train: Option<PathBuf>,
    /// Held-out examples (loss at step 0, every --eval-every steps and at the end).
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Output directory.
    #[arg(long, required_unless_present = "plan")]
    out: Option<PathBuf>,
    /// Print the memory this run needs (weights, trained state, activations) for --max-seq-len
    /// tokens per example, and whether it fits --plan-memory-gib; train nothing. --model may
    /// then also be a config.json file.
    #[arg(long)]
    plan: bool,
    /// The device memory the plan is checked against, in GiB.
    #[arg(long, default_value_t = 80.0)]
    plan_memory_gib: f64,
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
    allocator::keep_freed_memory();
    let args = Args::parse();
    if args.plan {
        return print_plan(&args);
    }
    let (Some(train_path), Some(out)) = (args.train.clone(), args.out.clone()) else {
        anyhow::bail!("--train and --out are required");
    };
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
    let train = read_examples(&train_path, formatter.as_ref(), t.max_seq_len)?;
    let max_len = train.examples.iter().map(|e| e.input_ids.len()).max().unwrap_or(0);
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
        "data": { "train": sha256_file(&train_path)?, "eval": eval_hash },
        "examples": { "train": train.examples.len(), "eval": eval.examples.len() },
        "skipped_too_long": { "train": train.skipped_too_long, "eval": eval.skipped_too_long },
        "model": { "source": name, "files": loaded.files },
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    create_dir_all(&out)?;
    write_json_atomic(&out.join("run.json"), &manifest)?;
    // A fully trained model is written as a model directory with the base's config and tokenizer.
    let files =
        args.full.then(|| config_and_tokenizer(&source, &loaded, options.dtype)).transpose()?;
    let mut trainer = Trainer::new(&mut loaded.model, trainable, config, &out)?;
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
    let mut peak = None;
    let outcome = trainer.train(&train.examples, &eval.examples, args.resume, &mut |log, _| {
        peak = peak.max(log.peak_memory_bytes);
        bar.set_position(log.step);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} {:.0} tok/s",
            log.loss, log.lr, log.tokens_per_s
        ));
    })?;
    bar.finish();
    trainer.trainable().save(&out, &name, files.as_ref())?;
    let (steps, evals) = loss_curves(&out)?;
    let fmt = |p: Option<&(f64, f64)>| p.map_or("-".into(), |v| format!("{:.4}", v.1));
    let (first, last) = (fmt(evals.first()), fmt(evals.last()));
    let series = [("training loss".to_owned(), steps), ("held-out loss".to_owned(), evals)];
    indievalue::metrics::plots::loss_curve(out.join("loss_curve"), "Fine-tuning loss", &series)?;
    let (done, from, loss) =
        (outcome.steps, outcome.resumed_from, outcome.last_loss.unwrap_or(f64::NAN));
    println!(
        "{done} steps (resumed from {from}), last loss {loss:.4}; held-out loss {first} -> {last}"
    );
    let planned = plan_spec(&args, max_len)?.map(|spec| plan(loaded.model.config(), &spec));
    if let (Some(p), Some(peak)) = (planned, peak) {
        println!("peak memory {} (planned {})", gib(peak), gib(p.total_bytes()));
    }
    println!("written to {}", out.display());
    Ok(())
}

/// The plan of this run's settings for examples of `len` tokens.
fn plan_spec(args: &Args, len: usize) -> anyhow::Result<Option<PlanSpec>> {
    let init = args.init_adapter.as_deref();
    Ok(Some(args.training.plan_spec(
        args.full,
        init,
        &args.model.dtype,
        &args.model.device,
        len,
    )?))
}

fn print_plan(args: &Args) -> anyhow::Result<()> {
    let source = ModelSource::parse(&args.model.model);
    let config = read_model_config(&source, &HubOptions::from_env())?;
    let Some(spec) = plan_spec(args, args.training.max_seq_len)? else { return Ok(()) };
    let p = plan(&config, &spec);
    let what = if args.full {
        "full fine-tuning".into()
    } else {
        format!("LoRA r={}", spec.lora.as_ref().map_or(0, |l| l.0))
    };
    let ckpt = if spec.checkpointing { "with" } else { "without" };
    println!(
        "{}: {what}, {} tokens x batch {}, {:?}, {ckpt} gradient checkpointing, kernels {:?}",
        args.model.model, spec.seq_len, spec.batch_size, spec.dtype, spec.kernels
    );
    println!("{p}");
    let card = (args.plan_memory_gib * (1u64 << 30) as f64) as u64;
    let verdict = if p.fits(card) { "fits" } else { "does not fit" };
    println!("{verdict} in {} GiB", args.plan_memory_gib);
    Ok(())
}
