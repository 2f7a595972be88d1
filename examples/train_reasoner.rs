//! Trains the paper's IndieValueReasoner and evaluates it beside the model it started from, in
//! one resumable command: the Table 18 training set (people outside the evaluation set only) as
//! C.1 conversations, fine-tuning with Table 17's settings (or `--lora`), label scoring (and,
//! with `--generate`, the generative protocol) of both models on the evaluation tasks of every
//! setup, polar and refined; Table 4's row, Table 19's inequity and Figure 4's per-group change.
//!
//! ```text
//! cargo run --release --features cuda --example train_reasoner -- --data data/ --tasks tasks/ \
//!     --meta $META --model meta-llama/Llama-3.1-8B-Instruct --device cuda --out runs/reasoner \
//!     [--lora] [--recipe p+r:mixed+200] [--n-per-question 1600] [--group Europe] \
//!     [--demographics none|prepend|only] [--eval-people 100] [--eval-group Europe] \
//!     [--lr ..] [--epochs ..] [--max-steps ..] [--grad-accum ..] [--max-seq-len ..] [--generate]
//! ```
//!
//! `--tasks` is a `sample_tasks` directory (`eval_ids.txt`, `probe_tasks.jsonl`). Rerun the
//! same command after an interruption: finished stages are skipped, training resumes from its
//! newest checkpoint, evaluations from their last finished task. Writes `OUT/summary.json`,
//! `OUT/table4.{md,csv}`, `OUT/table19.{md,csv}`, `OUT/figure4/` and the stages' files
//! (`indievalue::reasoner::ReasonerRun`).

#[path = "common/reasoner.rs"]
mod reasoner;

use clap::Parser;
use indievalue::catalog::{Catalog, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::files::sha256_file;
use indievalue::llm::{LoadOptions, ModelSource, device_from_name, parse_dtype};
use indievalue::probe::{GenerationSettings, ProbeMode, ScoreTarget};
use indievalue::reasoner::{EvaluationTasks, ReasonerRecipe, ReasonerRun};
use indievalue::sampling::{
    AnswerMatrix, DemographicsMode, EVAL_IDS_FILE, EvaluationSet, GroupOf, PROBE_TASKS_FILE,
    ProbeTask, TASK_FORMAT, TaskFile, TrainingRecipe, keep_first_people, read_id_file,
};
use std::path::PathBuf;

#[path = "common/allocator.rs"]
mod allocator;

#[derive(Parser)]
#[command(about = "Train an IndieValueReasoner and evaluate it beside its base model")]
struct Args {
    /// Converted survey directory (convert).
    #[arg(long)]
    data: PathBuf,
    /// A sample_tasks directory: eval_ids.txt (held out of training) and probe_tasks.jsonl.
    #[arg(long)]
    tasks: PathBuf,
    /// The statement metadata (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Base model: a safetensors directory, a .gguf file, or a hub id owner/name[@revision].
    #[arg(long)]
    model: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Compute precision (default bf16 on CUDA, as Table 17; f32 on the CPU).
    #[arg(long)]
    dtype: Option<String>,
    /// Output directory (one run per directory).
    #[arg(long)]
    out: PathBuf,
    /// Train a LoRA adapter (rank 16, alpha 32, dropout 0.05, all seven projections, lr 2e-4)
    /// instead of every weight.
    #[arg(long)]
    lora: bool,
    /// Training set `PROBES:DEMOS` (Table 18), e.g. `p+r:mixed+200`, `r:mixed`, `p:200`.
    #[arg(long, default_value = "p+r:mixed+200")]
    recipe: String,
    /// Training examples per question.
    #[arg(long, default_value_t = 1600)]
    n_per_question: usize,
    /// Only training people of this group of the balance item (the WVS: a continent, Figure 7).
    #[arg(long, alias = "continent")]
    group: Option<String>,
    /// Demographic statements in training examples: none, prepend or only (Table 5).
    #[arg(long, default_value = "none")]
    demographics: DemographicsMode,
    /// Evaluate the first N evaluation people (all by default).
    #[arg(long)]
    eval_people: Option<usize>,
    /// Evaluate only people of this group of the balance item (the WVS: a continent).
    #[arg(long, alias = "eval-continent")]
    eval_group: Option<String>,
    /// Also evaluate with the paper's generative protocol.
    #[arg(long)]
    generate: bool,
    /// Peak learning rate (default 5e-6 full, 2e-4 LoRA).
    #[arg(long)]
    lr: Option<f64>,
    /// Epochs (default 2).
    #[arg(long)]
    epochs: Option<f64>,
    /// Optimizer steps instead of epochs.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Micro-batches per optimizer step (default 8).
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Longest example in tokens (default 4,096).
    #[arg(long)]
    max_seq_len: Option<usize>,
    /// Checkpoint every N steps (default 100).
    #[arg(long)]
    save_every: Option<u64>,
    /// Seed of the training set, the data order and the adapter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let args = Args::parse();
    let meta = meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)?; // its errors name the file
    let respondents = args.data.join(RESPONDENTS_FILE);
    let people = Respondents::read_parquet(&catalog, &respondents)?;
    let answers = AnswerMatrix::new(&people);

    let mut set = TrainingRecipe::from_label(&args.recipe, args.n_per_question)?;
    set.group = args.group.clone();
    set.demographics = args.demographics;
    let mut recipe = if args.lora {
        ReasonerRecipe::lora_one_gpu(set.clone())
    } else {
        ReasonerRecipe::paper_full(set.clone())
    };
    let t = &mut recipe.train;
    t.seed = args.seed;
    t.optimizer.lr = args.lr.unwrap_or(t.optimizer.lr);
    t.epochs = args.epochs.unwrap_or(t.epochs);
    t.max_steps = args.max_steps.or(t.max_steps);
    t.grad_accum = args.grad_accum.unwrap_or(t.grad_accum);
    t.save_every = args.save_every.or(t.save_every);
    recipe.max_seq_len = args.max_seq_len.unwrap_or(recipe.max_seq_len);
    let on_gpu = args.device.starts_with("cuda");
    let dtype = args.dtype.clone().unwrap_or_else(|| if on_gpu { "bf16" } else { "f32" }.into());

    let (eval_ids_file, tasks_file) =
        (args.tasks.join(EVAL_IDS_FILE), args.tasks.join(PROBE_TASKS_FILE));
    let eval = EvaluationSet::from_ids(&catalog, &people, &read_id_file(&eval_ids_file)?)?;
    let what = serde_json::json!({
        "recipe": recipe,
        "model": args.model,
        "dtype": dtype,
        "data": sha256_file(&respondents)?,
        "eval_ids": sha256_file(&eval_ids_file)?,
        "tasks": sha256_file(&tasks_file)?,
        "eval_people": args.eval_people,
        "eval_continent": args.eval_group,
        "generate": args.generate,
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    let run = ReasonerRun::open(&args.out, &what)?;

    // Stage 1: the training set, from people outside the evaluation set.
    let pool = eval.training_rows(people.len());
    let meta = serde_json::json!({ "run": what, "pool": pool.len() });
    if let Some(n) =
        run.build_training_set(&catalog, &people, &answers, &pool, &set, args.seed, &meta)?
    {
        let path = run.training_set();
        eprintln!(
            "training set {}: {n} examples from {} training people -> {}",
            set.name(),
            pool.len(),
            path.display()
        );
    }

    // Stage 2: fine-tuning (resumes from the newest checkpoint).
    let source = ModelSource::parse(&args.model);
    let options = LoadOptions {
        dtype: parse_dtype(&dtype)?,
        device: device_from_name(&args.device)?,
        ..LoadOptions::default()
    };
    let trained = reasoner::fine_tune(&run, &args.model, &source, &options, &recipe)?;

    // Stage 3: both models on the same tasks.
    let (_, mut tasks): (_, Vec<ProbeTask>) = TaskFile::read(&tasks_file, &catalog, TASK_FORMAT)?;
    if let Some(group) = &args.eval_group {
        let of = GroupOf::balance(&catalog, &people)?;
        tasks.retain(|t| of.name_of_id(t.person) == Some(group.as_str()));
    }
    if let Some(n) = args.eval_people {
        keep_first_people(&mut tasks, n);
    }
    let tasks = EvaluationTasks::both(&catalog, &people, &answers, tasks)?;
    let mut modes = vec![("label scoring", ProbeMode::Score(ScoreTarget::Label))];
    if args.generate {
        modes.push(("generation", ProbeMode::Generate(GenerationSettings::default())));
    }
    let models =
        reasoner::Models { source: &source, options: &options, run: &run, trained: &trained };
    let results = reasoner::evaluate_both(&catalog, &people, &tasks, &models, &modes, args.seed)?;
    reasoner::report(&run, &catalog, &results, &trained)?;
    Ok(())
}
