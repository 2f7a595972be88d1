//! The reasoner recipe at small scale, on this machine: SmolLM2-135M-Instruct trained with LoRA
//! on a synthetic survey over the mini catalog, accuracy before and after training on held-out
//! synthetic people next to Random, Global, Resemble and the exact Bayes ceiling on the same
//! tasks; then the same recipe on a consistency set (demonstrations that settle every probe),
//! where a model that learned to read its demonstrations rises from chance. Training and
//! evaluation people are disjoint in both. Resumable: rerun the command after an interruption.
//!
//! ```text
//! bash scripts/fetch_models.sh
//! cargo run --release --example reasoner_small [-- --out out/reasoner-small]
//! ```
//!
//! Synthetic people carry no real-world meaning: the figures show the machinery and whether the
//! model reads its demonstrations, not anyone's values or a model's skill on the survey.

#[path = "common/reasoner.rs"]
mod reasoner;

use clap::Parser;
use indievalue::catalog::{Catalog, Granularity::Polar};
use indievalue::files::{create_dir_all, sha256_file};
use indievalue::llm::{LoadOptions, ModelSource};
use indievalue::probe::{ProbeMode, PromptBuilder, ScoreTarget};
use indievalue::reasoner::{EvaluationTasks, ReasonerRecipe, ReasonerRun};
use indievalue::sampling::{
    AnswerMatrix, ConsistencySpec, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, SettlingStatement,
    TaskSpec, TrainingRecipe, build_probe_tasks, chance_accuracy, consistency_tasks,
    select_evaluation_set,
};
use indievalue::synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::mini_catalog_dir;
use std::path::PathBuf;
use std::time::Instant;

#[path = "common/allocator.rs"]
mod allocator;

/// Small-scale reasoner run.
#[derive(Parser)]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "out/reasoner-small")]
    out: PathBuf,
    /// Synthetic people.
    #[arg(long, default_value_t = 3000)]
    people: usize,
    /// Held-out evaluation people (survey part).
    #[arg(long, default_value_t = 5)]
    eval_people: usize,
    /// Demonstrations per task and per training example (survey part).
    #[arg(long, default_value_t = 8)]
    demos: usize,
    /// Training examples per question (survey part; half polar, half refined).
    #[arg(long, default_value_t = 2)]
    n_per_question: usize,
    /// Consistency set: training people (each gives one example per setup-1 question).
    #[arg(long, default_value_t = 2)]
    consistency_train: usize,
    /// Consistency set: evaluation people (setup 1).
    #[arg(long, default_value_t = 2)]
    consistency_eval: usize,
    /// Consistency set: filler demonstrations per task.
    #[arg(long, default_value_t = 4)]
    fillers: usize,
    /// LoRA learning rate.
    #[arg(long, default_value_t = 2e-4)]
    lr: f64,
    /// Epochs of each training run.
    #[arg(long, default_value_t = 1.0)]
    epochs: f64,
    /// Seed of everything.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let args = Args::parse();
    let clock = Instant::now();
    let gguf = reasoner::fetched_smollm2()?;
    let source = ModelSource::Gguf(gguf.clone());
    let options = LoadOptions::default();
    let catalog = Catalog::load(mini_catalog_dir())?;
    let setups = ProbeSetup::of_survey(&catalog);
    create_dir_all(&args.out)?;

    // The survey: synthetic people, converted, an evaluation set, tasks with short
    // demonstrations (polar, and the same refined).
    let config = SynthConfig { people: args.people, seed: args.seed, ..Default::default() };
    let truth = SyntheticModel::new(&catalog, &config)?;
    let people = &truth.respondents(&catalog)?;
    let answers = AnswerMatrix::new(people);
    let criteria = EvalCriteria { people: args.eval_people, ..EvalCriteria::scaled(&catalog) };
    let eval = select_evaluation_set(&catalog, people, &answers, &setups, &criteria, args.seed)?;
    let demos =
        DemoSpec { mode: DemoMode::Fixed(args.demos), granularity: Polar, demographics: false };
    let spec = TaskSpec { setups: &setups, demos, probe_granularity: Polar, seed: args.seed };
    // The evaluation set takes every qualifying Oceanian as the paper does; keep the first N.
    let eval_rows: Vec<usize> = eval.rows.iter().copied().take(args.eval_people).collect();
    let tasks = build_probe_tasks(&catalog, people, &answers, &eval_rows, &spec);
    let tasks = EvaluationTasks::both(&catalog, people, &answers, tasks)?;
    let pool = eval.training_rows(people.len());

    // The same tasks for the baselines and the exact ceiling.
    let mut rows = reasoner::baseline_rows(&catalog, people, &answers, &pool, &tasks, args.seed)?;
    rows.push((
        "Bayes ceiling (exact)".into(),
        truth.bayes_ceiling(&catalog, people, &tasks.polar)?,
        truth.bayes_ceiling(&catalog, people, &tasks.refined)?,
    ));

    // The survey reasoner: LoRA on C.1 conversations of training people.
    let set = TrainingRecipe::parse("p+r", &args.demos.to_string(), args.n_per_question)?;
    let recipe = small(ReasonerRecipe::lora_one_gpu(set.clone()), &args);
    let what = serde_json::json!({
        "part": "survey", "recipe": recipe, "synth": config, "eval_people": args.eval_people,
        "demos": args.demos, "model": sha256_file(&gguf)?,
    });
    let run = ReasonerRun::open(args.out.join("survey"), &what)?;
    let meta = serde_json::json!({ "run": what });
    run.build_training_set(&catalog, people, &answers, &pool, &set, args.seed, &meta)?;
    let trained = reasoner::fine_tune(&run, "SmolLM2-135M-Instruct", &source, &options, &recipe)?;
    let label = [("label scoring", ProbeMode::Score(ScoreTarget::Label))];
    let models =
        reasoner::Models { source: &source, options: &options, run: &run, trained: &trained };
    let survey = reasoner::evaluate_both(&catalog, people, &tasks, &models, &label, args.seed)?;
    let survey = survey.into_iter().next().expect("one mode");
    reasoner::report(&run, &catalog, std::slice::from_ref(&survey), &trained)?;
    let table =
        reasoner::comparison_table("Reasoner (label scoring)", setups.len(), &rows, &survey);
    table.write(args.out.join("survey-table"))?;
    println!(
        "\nSurvey part: {} held-out synthetic people, {} demonstrations, {} training examples",
        eval_rows.len(),
        args.demos,
        trained.examples
    );
    print!("{}", table.to_markdown());

    // The consistency set: train on people 1..=T, evaluate people T+1..=T+E (setup 1).
    let cspec = ConsistencySpec {
        settling: SettlingStatement::RefinedForPolar,
        fillers: args.fillers,
        seed: args.seed + 7,
    };
    let all = consistency_tasks(
        &catalog,
        &setups[..1],
        args.consistency_train + args.consistency_eval,
        &cspec,
    )?;
    let (train_tasks, eval_tasks): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|t| t.person <= args.consistency_train as i64);
    let crecipe = small(ReasonerRecipe::lora_settings(None), &args);
    let cwhat = serde_json::json!({ "part": "consistency", "recipe": crecipe, "spec": cspec, "train": args.consistency_train, "eval": args.consistency_eval, "model": sha256_file(&gguf)? });
    let crun = ReasonerRun::open(args.out.join("consistency"), &cwhat)?;
    crun.write_task_training_set(
        &PromptBuilder::new(&catalog),
        &train_tasks,
        &serde_json::json!({ "run": cwhat }),
    )?;
    let ctrained =
        reasoner::fine_tune(&crun, "SmolLM2-135M-Instruct", &source, &options, &crecipe)?;
    // The consistency tasks are polar probes over refined demonstrations; both "forms" are the
    // same tasks here.
    let ctasks = EvaluationTasks { polar: eval_tasks.clone(), refined: Vec::new() };
    let cmodels =
        reasoner::Models { source: &source, options: &options, run: &crun, trained: &ctrained };
    let modes = [
        ("label scoring", ProbeMode::Score(ScoreTarget::Label)),
        ("statement scoring", ProbeMode::Score(ScoreTarget::Statement)),
    ];
    let consistency =
        reasoner::evaluate_consistency(&catalog, &ctasks, &cmodels, &modes, args.seed)?;
    let probes: usize = eval_tasks.iter().map(|t| t.probes.len()).sum();
    let ct = reasoner::consistency_table(chance_accuracy(&eval_tasks), &consistency);
    ct.write(args.out.join("consistency-table"))?;
    println!(
        "\nConsistency part: {} training examples ({} people), {} held-out people, {probes} probes",
        ctrained.examples, args.consistency_train, args.consistency_eval
    );
    print!("{}", ct.to_markdown());
    println!(
        "\n(synthetic people: the figures show the machinery, not anyone's values; {:.1} min in all)",
        clock.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// The recipe at this machine's scale with the flags' learning rate, epochs and seed.
fn small(recipe: ReasonerRecipe, args: &Args) -> ReasonerRecipe {
    reasoner::cpu_scale(recipe, args.lr, args.epochs, args.seed)
}
