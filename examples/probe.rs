//! Probes a language model on probe tasks: `--mode score` (a probability for every option from
//! one shared prefix per person and setup) or `--mode generate` (the paper's protocol: greedy
//! JSON answer, parsed by key). Results are appended per task; a rerun with the same arguments
//! resumes where the last one stopped.
//!
//! ```text
//! bash scripts/fetch_models.sh
//! cargo run --release --example probe -- --model .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
//!     --meta $META --tasks tasks/ --mode score --score-target statement --out probe-out/ \
//!     [--limit 10] [--data data/]
//! cargo run --release --features cuda --example probe -- --model meta-llama/Llama-3.1-8B-Instruct \
//!     --device cuda --dtype bf16 --meta $META --tasks tasks/ --mode generate --out probe-8b/
//! ```
//!
//! Writes `predictions.jsonl` (shared predictions format), `generations.jsonl` (generate mode:
//! every attempt's raw answer and parse) and `summary.json`; prints accuracy, σ-INEQUITY (with
//! `--data`) and log-loss (score mode).

use anyhow::{Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::catalog::{Catalog, Respondents};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::llm::{LoadOptions, ModelSource, device_from_name, load_model, parse_dtype};
use indievalue::metrics::{AccuracyReport, Bootstrap, Dimension, InequityIndex, PredictionsFile};
use indievalue::probe::{GenerationSettings, ProbeMode, ProbeRun, ScoreTarget};
use indievalue::sampling::{ProbeTask, TASK_FORMAT, TaskFile, TaskFileHeader};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Probe a language model on IndieValueCatalog tasks")]
struct Args {
    /// Model: a safetensors directory, a .gguf file, or a hub id owner/name[@revision].
    #[arg(long)]
    model: String,
    /// The statement metadata (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Directory with probe_tasks.jsonl (from sample_tasks).
    #[arg(long)]
    tasks: PathBuf,
    /// score or generate.
    #[arg(long, default_value = "score")]
    mode: String,
    /// Score mode: what is scored, label (C.1 prompt, the option's label), answer (C.1 prompt,
    /// the whole answer) or statement (cloze: the option's statement as one more known
    /// statement; what small untuned models need).
    #[arg(long, default_value = "label")]
    score_target: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Run at most this many tasks now (a rerun continues).
    #[arg(long)]
    limit: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Converted survey directory, for σ-INEQUITY in the summary.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Generate mode: most new tokens per attempt.
    #[arg(long, default_value_t = 2048)]
    max_new_tokens: usize,
    /// Generate mode: retries when groups lack a valid choice.
    #[arg(long, default_value_t = 2)]
    retries: usize,
    /// Generate mode: temperature of retries.
    #[arg(long, default_value_t = 0.7)]
    retry_temperature: f64,
    /// Seed of sampled retries.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let meta = match &args.meta {
        Some(m) => m.clone(),
        None => indievalue::catalog::meta_dir_from_env()
            .context("--meta not given and INDIEVALUE_META_DIR not set")?,
    };
    let catalog = Catalog::load(&meta).with_context(|| format!("loading {}", meta.display()))?;
    let tasks_path = args.tasks.join("probe_tasks.jsonl");
    let (task_header, tasks): (TaskFileHeader, Vec<ProbeTask>) =
        TaskFile::read(&tasks_path, &catalog, TASK_FORMAT)?;
    let mode = match args.mode.as_str() {
        "score" => ProbeMode::Score(match args.score_target.as_str() {
            "label" => ScoreTarget::Label,
            "answer" => ScoreTarget::Answer,
            "statement" => ScoreTarget::Statement,
            other => anyhow::bail!("--score-target {other:?}: label, answer or statement"),
        }),
        "generate" => ProbeMode::Generate(GenerationSettings {
            max_new_tokens: args.max_new_tokens,
            retries: args.retries,
            retry_temperature: args.retry_temperature,
            seed: args.seed,
        }),
        other => anyhow::bail!("--mode {other:?}: score or generate"),
    };
    let started = Instant::now();
    let options = LoadOptions {
        dtype: parse_dtype(&args.dtype)?,
        device: device_from_name(&args.device)?,
        ..LoadOptions::default()
    };
    let model = load_model(&ModelSource::parse(&args.model), &options)
        .with_context(|| format!("loading {}", args.model))?;
    eprintln!(
        "model {} loaded in {:.1} s ({} layers, {:?} on {})",
        args.model,
        started.elapsed().as_secs_f64(),
        model.model.config().num_hidden_layers,
        options.dtype,
        args.device
    );
    let params = serde_json::json!({
        "model": args.model,
        "model_files": model.files,
        "dtype": args.dtype,
        "device": args.device,
        "tasks": tasks_path,
        "tasks_seed": task_header.seed,
        "tasks_params": task_header.params,
    });
    let run = ProbeRun::new(&model, &catalog, mode, &args.out, args.seed, params);
    let total = args.limit.map_or(tasks.len(), |l| l.min(tasks.len()));
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} tasks {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut tokens, clock) = (0usize, Instant::now());
    let outcome = run.run(&tasks, args.limit, &mut |done| {
        tokens += done.tokens;
        bar.inc(1);
        bar.set_message(format!(
            "{:.0} tok/s, person {} setup {}: {}/{} answered",
            tokens as f64 / clock.elapsed().as_secs_f64(),
            done.person,
            done.setup,
            done.answered,
            done.probes
        ));
    })?;
    bar.finish();
    eprintln!(
        "ran {} tasks ({} resumed from an earlier run, {} partial dropped), {tokens} tokens in {:.1} s",
        outcome.ran,
        outcome.resumed,
        outcome.dropped_partial,
        clock.elapsed().as_secs_f64()
    );
    let (_, predictions) = PredictionsFile::read(run.predictions_path(), &catalog)?;
    if predictions.is_empty() {
        return Ok(());
    }
    let report = AccuracyReport::compute(&catalog, &predictions, &Bootstrap::default())?;
    println!(
        "accuracy {:.2} % (95% CI {:.2}-{:.2}) over {} people",
        report.overall,
        report.ci_low,
        report.ci_high,
        report.per_person.len()
    );
    for (setup, acc) in &report.per_setup {
        println!("  setup {}: {acc:.2} %", setup + 1);
    }
    if let Some(l) = report.log_loss {
        println!(
            "log-loss {l:.4}, Brier {:.4}",
            report.brier.unwrap_or(f64::NAN)
        );
    }
    let inequity = match &args.data {
        Some(data) => {
            let people = Respondents::read_parquet(&catalog, data.join(RESPONDENTS_FILE))?;
            let index = InequityIndex::compute(
                &catalog,
                &people,
                &report.per_person,
                &Dimension::paper(),
                1,
            )?;
            println!("σ-INEQUITY {:.2}", index.index);
            Some(index.index)
        }
        None => None,
    };
    let summary = serde_json::json!({
        "model": args.model,
        "mode": args.mode,
        "predictions": predictions.len(),
        "accuracy": report.overall,
        "per_setup": report.per_setup,
        "log_loss": report.log_loss,
        "brier": report.brier,
        "inequity": inequity,
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    indievalue::catalog::storage::write_atomic_with(&args.out.join("summary.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        Ok(())
    })?;
    Ok(())
}
