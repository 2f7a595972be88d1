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
//! # a model served behind an OpenAI-compatible API (key from $OPENAI_API_KEY, never written):
//! cargo run --release --example probe -- --backend openai --base-url https://api.openai.com/v1 \
//!     --model gpt-4o --meta $META --tasks tasks/ --mode generate --out probe-gpt4o/ \
//!     --concurrency 8 --max-requests 2000 --price-prompt 2.5 --price-completion 10
//! ```
//!
//! Writes `predictions.jsonl` (shared predictions format), `generations.jsonl` (generate mode:
//! every attempt's raw answer and parse) and `summary.json`; prints accuracy, σ-INEQUITY (with
//! `--data`) and log-loss (score mode).

use anyhow::{Context, Result};
#[path = "common/model_args.rs"]
mod common;
#[path = "common/remote_args.rs"]
mod remote;

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::catalog::{Catalog, FileHeader, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::metrics::{AccuracyReport, Bootstrap, InequityIndex, PredictionsFile};
use indievalue::probe::{GenerationSettings, ProbeMode, ProbeRun, ScoreTarget};
use indievalue::sampling::{PROBE_TASKS_FILE, ProbeTask, TASK_FORMAT, TaskFile};
use std::path::PathBuf;
use std::time::Instant;

/// How the model is probed.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeName {
    /// A probability for every option (scoring predictor).
    Score,
    /// The paper's generative protocol.
    Generate,
}

#[derive(Parser)]
#[command(about = "Probe a language model on IndieValueCatalog tasks")]
struct Args {
    #[command(flatten)]
    model: common::ModelArgs,
    #[command(flatten)]
    adapter: common::AdapterArg,
    #[command(flatten)]
    remote: remote::RemoteArgs,
    /// The statement metadata (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Directory with probe_tasks.jsonl (from sample_tasks).
    #[arg(long)]
    tasks: PathBuf,
    /// score or generate.
    #[arg(long, value_enum, default_value_t = ModeName::Score)]
    mode: ModeName,
    /// Score mode: what is scored, label (C.1 prompt, the option's label), answer (C.1 prompt,
    /// the whole answer) or statement (cloze: the option's statement as one more known
    /// statement; what small untuned models need).
    #[arg(long, default_value = "label")]
    score_target: ScoreTarget,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Run only the first N tasks (counting those an earlier run finished: a rerun of the same
    /// command ends where an uninterrupted run would).
    #[arg(long)]
    limit: Option<usize>,
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
    let meta = meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta).with_context(|| format!("loading {}", meta.display()))?;
    let tasks_path = args.tasks.join(PROBE_TASKS_FILE);
    let (task_header, tasks): (FileHeader, Vec<ProbeTask>) =
        TaskFile::read(&tasks_path, &catalog, TASK_FORMAT)?;
    let mode = match args.mode {
        ModeName::Score => ProbeMode::Score(args.score_target),
        ModeName::Generate => ProbeMode::Generate(GenerationSettings {
            max_new_tokens: args.max_new_tokens,
            retries: args.retries,
            retry_temperature: args.retry_temperature,
            seed: args.seed,
        }),
    };
    let tasks_params = serde_json::json!({
        "tasks": tasks_path, "tasks_seed": task_header.seed, "tasks_params": task_header.params,
    });
    let client = args.remote.remote().then(|| args.remote.client(&args.model.model)).transpose()?;
    let model;
    let run = if let Some(client) = &client {
        anyhow::ensure!(
            args.adapter.adapter.is_none(),
            "--adapter is for local models: serve the merged model instead"
        );
        let (predictor, mut params) = args.remote.predictor(client, &catalog, &mode)?;
        params["inputs"] = tasks_params;
        eprintln!("serving model {} at {}", args.model.model, client.endpoint().base_url);
        ProbeRun::with_predictor(predictor, &catalog, &args.out, args.seed, params)
    } else {
        let (loaded, mut params) = args.model.load_reporting(args.adapter.adapter.as_deref())?;
        model = loaded;
        if let (Some(p), Some(t)) = (params.as_object_mut(), tasks_params.as_object()) {
            p.extend(t.clone());
        }
        ProbeRun::new(&model, &catalog, mode, &args.out, args.seed, params)
    };
    let total = args.limit.map_or(tasks.len(), |l| l.min(tasks.len()));
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} tasks {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut tokens, clock) = (0usize, Instant::now());
    let result = run.run(&tasks, args.limit, &mut |done| {
        tokens += done.tokens;
        bar.inc(1);
        let seconds = clock.elapsed().as_secs_f64();
        bar.set_message(
            match &client {
                Some(c) => remote::progress(&c.usage(), seconds),
                None => format!("{:.0} tok/s", tokens as f64 / seconds),
            } + &format!(
                ", person {} setup {}: {}/{} answered",
                done.person, done.setup, done.answered, done.probes
            ),
        );
    });
    bar.finish();
    // Requests spent are recorded even when the run stops on an error.
    if let Some(c) = &client {
        let seconds = clock.elapsed().as_secs_f64();
        eprintln!("{}", remote::progress(&c.usage(), seconds));
        remote::record_usage(&args.out, &c.usage(), seconds)?;
    }
    let outcome = result?;
    if let Some(why) = &outcome.stopped {
        eprintln!("stopped before the last task: budget reached ({why}); rerun to continue");
    }
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
    print!("{}", report.text_summary());
    let mut inequity = None;
    if let Some(data) = &args.data {
        let people = Respondents::read_parquet(&catalog, data.join(RESPONDENTS_FILE))?;
        let index = InequityIndex::of_survey(&catalog, &people, &report.per_person, 1)?.index;
        println!("σ-INEQUITY {index:.2}");
        inequity = Some(index);
    }
    let summary = serde_json::json!({
        "model": args.model.model,
        "mode": args.mode.to_possible_value().map(|v| v.get_name().to_owned()),
        "predictions": predictions.len(),
        "accuracy": report.overall,
        "per_setup": report.per_setup,
        "log_loss": report.log_loss,
        "brier": report.brier,
        "inequity": inequity,
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    indievalue::files::write_json_atomic(&args.out.join("summary.json"), &summary)?;
    Ok(())
}
