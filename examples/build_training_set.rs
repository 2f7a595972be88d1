//! Builds a training set for a reasoner (Table 18 recipes).
//!
//! ```text
//! cargo run --release --example build_training_set -- --data data/ --meta META \
//!     --n-per-question 1600 --recipe p+r:mixed+200 --out train.jsonl \
//!     [--eval-ids tasks/eval_ids.txt] [--group Europe] [--demographics none|prepend|only] \
//!     [--format records|messages|prompt-completion]
//! ```
//!
//! Without `--eval-ids` the evaluation set is selected with the same seed and default criteria, so
//! that no evaluation person is trained on.

use anyhow::Context;
use clap::Parser;
use indievalue::catalog::{Catalog, FileHeader, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::probe::{ChatFormat, PromptBuilder, write_chat_training_set};
use indievalue::sampling::{
    AnswerMatrix, DemographicsMode, EvalCriteria, EvaluationSet, ProbeSetup, TRAINING_FORMAT,
    TrainingRecipe, WRITTEN_BY, build_training_set, read_id_file, select_evaluation_set,
    write_training_set,
};
use std::path::PathBuf;
use std::time::Instant;

/// The file written.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    /// Training records with a header line.
    Records,
    /// `{"messages": [...], "question", "person", ...}` lines.
    Messages,
    /// `{"prompt": [...], "completion": [...], ...}` lines.
    PromptCompletion,
}

/// Training-set builder.
#[derive(Parser)]
struct Args {
    /// Dataset directory written by convert.
    #[arg(long)]
    data: PathBuf,
    /// Metadata directory of the catalog (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Examples per question.
    #[arg(long)]
    n_per_question: usize,
    /// `PROBES:DEMOS`, e.g. `p+r:mixed+200`, `r:mixed`, `p:200`.
    #[arg(long, default_value = "p+r:mixed+200")]
    recipe: String,
    /// Output file (JSON Lines).
    #[arg(long)]
    out: PathBuf,
    /// Evaluation ids to hold out.
    #[arg(long)]
    eval_ids: Option<PathBuf>,
    /// Evaluation people when selecting them here (default: the survey's).
    #[arg(long)]
    eval_people: Option<usize>,
    /// Only training people of this group of the survey's balance item (the WVS: a continent).
    #[arg(long, alias = "continent")]
    group: Option<String>,
    /// Demographic statements: none, prepend or only.
    #[arg(long, default_value = "none")]
    demographics: DemographicsMode,
    /// records (our format, a header line), messages (C.1 conversations) or prompt-completion;
    /// the chat formats have no header line: what made them goes to FILE.meta.json.
    #[arg(long, value_enum, default_value_t = OutputFormat::Records)]
    format: OutputFormat,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)
        .with_context(|| format!("loading the catalog from {}", meta.display()))?;
    let people = Respondents::read_parquet(&catalog, args.data.join(RESPONDENTS_FILE))?;
    let answers = AnswerMatrix::new(&people);
    let mut recipe = TrainingRecipe::from_label(&args.recipe, args.n_per_question)?;
    recipe.group = args.group.clone();
    recipe.demographics = args.demographics;
    let eval = match &args.eval_ids {
        Some(file) => EvaluationSet::from_ids(&catalog, &people, &read_id_file(file)?)?,
        None => {
            let mut criteria = EvalCriteria::of_survey(&catalog, None);
            criteria.people = args.eval_people.unwrap_or(criteria.people);
            let setups = ProbeSetup::of_survey(&catalog);
            select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, args.seed)?
        }
    };
    let pool = eval.training_rows(people.len());
    let start = Instant::now();
    let examples = build_training_set(&catalog, &people, &answers, &pool, &recipe, args.seed)?;
    let built = start.elapsed();
    let header = FileHeader::new(
        TRAINING_FORMAT,
        &catalog,
        args.seed,
        WRITTEN_BY,
        serde_json::json!({
            "data": args.data.display().to_string(),
            "recipe": recipe,
            "held_out": eval.ids.len(),
        }),
    );
    match args.format {
        OutputFormat::Records => {
            write_training_set(&args.out, &header, &catalog, &people, &recipe, &examples)?
        }
        chat => {
            let format = if chat == OutputFormat::Messages {
                ChatFormat::Messages
            } else {
                ChatFormat::PromptCompletion
            };
            let records: Vec<_> =
                examples.iter().map(|e| e.record(&catalog, &people, recipe.demographics)).collect();
            let meta = serde_json::to_value(&header)?;
            write_chat_training_set(
                &args.out,
                &PromptBuilder::new(&catalog),
                &records,
                format,
                &meta,
            )?;
        }
    }
    println!(
        "{} {}: {} examples from a pool of {} (built in {:.2} s) -> {}",
        recipe.name(),
        recipe.group.as_deref().unwrap_or("all groups"),
        examples.len(),
        pool.len(),
        built.as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
