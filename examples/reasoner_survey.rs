//! The reasoner recipe where statements mean something: SmolLM2-135M-Instruct trained with LoRA
//! on C.1 conversations of a real survey's training respondents, then label and statement
//! scoring of held-out respondents before and after training, next to Random, Global, Resemble
//! and the learned statistical reasoners on the same tasks, with 95 % bootstrap intervals over
//! people and whether the predictions vary with the person. Resumable: rerun after a stop.
//!
//! ```text
//! bash scripts/fetch_models.sh && bash scripts/fetch_surveys.sh
//! cargo run --release --example reasoner_survey [-- --survey surveys/gss-spending]
//! ```

#[path = "common/reasoner.rs"]
mod reasoner;

#[path = "common/allocator.rs"]
mod allocator;

use clap::Parser;
use indievalue::baselines::{SuiteOptions, run_baseline_suite};
use indievalue::catalog::Catalog;
use indievalue::experiments::SurveyRun;
use indievalue::files::{sha256_file, write_json_atomic};
use indievalue::llm::{LoadOptions, ModelSource};
use indievalue::metrics::{
    AccuracyReport, Bootstrap, Prediction, PredictionVariety, Table, setup_average,
};
use indievalue::probe::{ProbeMode, ScoreTarget};
use indievalue::reasoner::{ReasonerRecipe, ReasonerRun};
use indievalue::sampling::{AnswerMatrix, TrainingRecipe, survey_demo_mode};
use indievalue_testdata::survey_cache_dir;
use std::path::PathBuf;
use std::time::Instant;

/// The reasoner recipe on a described survey's real respondents.
#[derive(Parser)]
struct Args {
    /// The survey description (a directory under `surveys/`, or yours).
    #[arg(long, default_value = "surveys/gss-spending")]
    survey: PathBuf,
    /// The survey's CSV (default: `.cache/surveys/NAME.csv`, NAME the description's directory).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Output directory (default: `out/reasoner-NAME`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Held-out people the models score (the first of the survey's evaluation set).
    #[arg(long, default_value_t = 30)]
    eval_people: usize,
    /// Training examples per question (half polar, half refined probes).
    #[arg(long, default_value_t = 12)]
    n_per_question: usize,
    /// LoRA learning rate.
    #[arg(long, default_value_t = 5e-4)]
    lr: f64,
    /// Epochs.
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
    let name = args.survey.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| "survey".into());
    let csv = args.csv.clone().unwrap_or_else(|| survey_cache_dir().join(format!("{name}.csv")));
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("out/reasoner-{name}")));
    let gguf = reasoner::fetched_smollm2()?;
    anyhow::ensure!(csv.exists(), "{} is missing: run scripts/fetch_surveys.sh", csv.display());
    let catalog = Catalog::load(&args.survey)?;

    // The survey's people, its evaluation set and polar probe tasks; the models score the
    // first `eval_people` of the set, every baseline the same tasks.
    let survey = SurveyRun::new(&catalog, out.join("survey"), args.seed);
    let people = survey.convert(&csv)?.respondents;
    let answers = AnswerMatrix::new(&people);
    let sample = survey.sample(&people, &answers, None, None)?;
    let held_out: Vec<i64> =
        sample.eval.rows.iter().take(args.eval_people).map(|&r| people.ids()[r]).collect();
    let tasks: Vec<_> =
        sample.tasks.iter().filter(|t| held_out.contains(&t.person)).cloned().collect();
    let pool = sample.eval.training_rows(people.len());
    let options = SuiteOptions::with_learned(args.seed);
    let baselines = run_baseline_suite(&catalog, &people, &answers, &pool, &tasks, &options)?;

    // LoRA on C.1 conversations of training people only, with the survey's demonstrations.
    let demos = survey_demo_mode(&catalog).to_string();
    let set = TrainingRecipe::parse("p+r", &demos, args.n_per_question)?;
    let lora = ReasonerRecipe::lora_one_gpu(set.clone());
    let recipe = reasoner::cpu_scale(lora, args.lr, args.epochs, args.seed);
    let source = ModelSource::Gguf(gguf.clone());
    let load = LoadOptions::default();
    let what = serde_json::json!({
        "survey": catalog.survey().name, "catalog": catalog.content_hash(), "csv": sha256_file(&csv)?,
        "recipe": recipe, "eval_people": args.eval_people, "model": sha256_file(&gguf)?,
    });
    let run = ReasonerRun::open(&out, &what)?;
    let meta = serde_json::json!({ "run": what });
    run.build_training_set(&catalog, &people, &answers, &pool, &set, args.seed, &meta)?;
    let trained = reasoner::fine_tune(&run, "SmolLM2-135M-Instruct", &source, &load, &recipe)?;
    let models = reasoner::Models { source: &source, options: &load, run: &run, trained: &trained };
    let modes = [
        ("label scoring", ProbeMode::Score(ScoreTarget::Label)),
        ("statement scoring", ProbeMode::Score(ScoreTarget::Statement)),
    ];
    let scored = reasoner::evaluate_predictions(&catalog, &tasks, &models, &modes, args.seed)?;

    // One table: accuracy with its interval over people, and whether predictions vary.
    let bootstrap = Bootstrap { seed: args.seed, ..Bootstrap::default() };
    let mut rows: Vec<(String, Vec<Prediction>)> = Vec::new();
    for b in &baselines.runs {
        rows.push((baselines.label_of(b), b.predictions.clone()));
    }
    for (mode, base, after) in scored {
        rows.push((format!("SmolLM2 untrained, {mode}"), base));
        rows.push((format!("SmolLM2 + LoRA, {mode}"), after));
    }
    let mut table = Table::new([
        "Reasoner (polar probes)",
        "accuracy",
        "95 % interval",
        "person-specific %",
        "probes varying",
        "options used",
    ]);
    table.push([
        "Random (exact)".to_owned(),
        format!("{:.2}", setup_average(&baselines.random)),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    let mut summary = Vec::new();
    for (label, predictions) in &rows {
        let r = AccuracyReport::compute(&catalog, predictions, &bootstrap)?;
        let v = PredictionVariety::of(predictions);
        table.push([
            label.clone(),
            format!("{:.2}", r.setup_average()),
            format!("{:.2}-{:.2}", r.ci_low, r.ci_high),
            format!("{:.1}", v.person_specific),
            format!("{}/{}", v.varying_probes, v.probes),
            v.distinct_options.to_string(),
        ]);
        summary.push(serde_json::json!({ "row": label, "accuracy": r.setup_average(),
            "ci": [r.ci_low, r.ci_high], "variety": v }));
    }
    table.write(out.join("comparison"))?;
    let minutes = clock.elapsed().as_secs_f64() / 60.0;
    write_json_atomic(
        &out.join("summary.json"),
        &serde_json::json!({ "run": what, "trained": trained, "rows": summary,
            "held_out_people": held_out.len(), "tasks": tasks.len(), "minutes_this_run": minutes }),
    )?;
    println!(
        "{}: real respondents. {} held-out people ({} tasks, {} demonstrations each); \
         {} training examples from {} training people; {} steps in {:.0} s",
        catalog.survey().name,
        held_out.len(),
        tasks.len(),
        demos,
        trained.examples,
        pool.len(),
        trained.steps,
        trained.seconds
    );
    print!("{}", table.to_markdown());
    println!(
        "({minutes:.1} min this run; {} and summary.json)",
        out.join("comparison.md").display()
    );
    Ok(())
}
