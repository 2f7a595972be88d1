//! Samples the evaluation set and the probe tasks of the three setups.
//!
//! ```text
//! cargo run --release --example sample_tasks -- --data data/ --meta META --out tasks/ \
//!     [--eval-ids FILE] [--demos 200|mixed] [--granularity polar|refined] \
//!     [--with-demographics] [--seed S] [--json]
//! ```
//!
//! Writes `eval_ids.txt` (one `D_INTERVIEW` per line), `probe_tasks.jsonl` and `summary.json`.

use anyhow::Context;
use clap::Parser;
use indievalue::catalog::{Catalog, FileHeader, Granularity, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::files::{create_dir_all, write_json_atomic};
use indievalue::sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EVAL_IDS_FILE, EvalCriteria, EvaluationSet, PROBE_TASKS_FILE,
    ProbeSetup, TASK_FORMAT, TaskFile, TaskSpec, WRITTEN_BY, build_probe_tasks, read_id_file,
    select_evaluation_set, write_id_file,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Probe-task sampler.
#[derive(Parser)]
struct Args {
    /// Dataset directory written by convert_wvs.
    #[arg(long)]
    data: PathBuf,
    /// Metadata directory of the catalog (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Use these evaluation ids instead of selecting them.
    #[arg(long)]
    eval_ids: Option<PathBuf>,
    /// Demonstrations: a number, `mixed` (50..200) or `demographics`.
    #[arg(long, default_value = "200")]
    demos: DemoMode,
    /// Statement form of probes and demonstrations (polar or refined).
    #[arg(long, default_value = "polar")]
    granularity: Granularity,
    /// Prepend the person's demographic statements.
    #[arg(long)]
    with_demographics: bool,
    /// Evaluation people.
    #[arg(long, default_value_t = 800)]
    eval_people: usize,
    /// Minimum valid answers (default: 239 scaled to the catalog's size).
    #[arg(long)]
    min_valid_answers: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)
        .with_context(|| format!("loading the catalog from {}", meta.display()))?;
    let people = Respondents::read_parquet(&catalog, args.data.join(RESPONDENTS_FILE))?;
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::paper(&catalog);
    let (granularity, mode) = (args.granularity, args.demos);
    let mut criteria = EvalCriteria::scaled(&catalog);
    criteria.people = args.eval_people;
    if let Some(n) = args.min_valid_answers {
        criteria.min_valid_answers = n;
    }
    let eval = match &args.eval_ids {
        Some(file) => EvaluationSet::from_ids(&catalog, &people, &read_id_file(file)?)?,
        None => select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, args.seed)?,
    };
    create_dir_all(&args.out)?;
    let ids_file = args.out.join(EVAL_IDS_FILE);
    write_id_file(&ids_file, &eval.ids)?;
    let spec = DemoSpec { mode, granularity, demographics: args.with_demographics };
    let tasks = build_probe_tasks(
        &catalog,
        &people,
        &answers,
        &eval.rows,
        &TaskSpec { setups: &setups, demos: spec, probe_granularity: granularity, seed: args.seed },
    );
    let setup_ids: Vec<Vec<String>> = setups.iter().map(|s| s.question_ids(&catalog)).collect();
    let params = serde_json::json!({
        "data": args.data.display().to_string(),
        "eval_ids_file": ids_file.display().to_string(),
        "setups": setup_ids,
        "criteria": criteria,
        "demo_spec": spec,
        "probe_granularity": granularity,
    });
    let header = FileHeader::new(TASK_FORMAT, &catalog, args.seed, WRITTEN_BY, params);
    let tasks_file = args.out.join(PROBE_TASKS_FILE);
    TaskFile::write(&tasks_file, &header, &tasks)?;

    let religion = catalog.demographic_index("Q289");
    let mut per_religion: BTreeMap<String, usize> = BTreeMap::new();
    for &r in &eval.rows {
        let name = religion
            .and_then(|d| {
                people
                    .demographic_option(r, d)
                    .map(|o| catalog.demographics()[d].options()[o as usize].label.clone())
            })
            .unwrap_or_else(|| "(no answer)".into());
        *per_religion.entry(name).or_default() += 1;
    }
    let mean_demos = tasks.iter().map(|t| t.demonstrations.len() as f64).sum::<f64>()
        / tasks.len().max(1) as f64;
    let summary = serde_json::json!({
        "setups": setup_ids,
        "eval_ids_file": ids_file.display().to_string(),
        "tasks_file": tasks_file.display().to_string(),
        "eval_people": eval.ids.len(),
        "per_continent": eval.per_continent,
        "eligible_per_continent": eval.eligible_per_continent,
        "candidates_per_continent": eval.candidates_per_continent,
        "per_religion": per_religion,
        "tasks": tasks.len(),
        "mean_demonstrations": mean_demos,
        "seed": args.seed,
        "written_by": header.written_by,
    });
    write_json_atomic(&args.out.join("summary.json"), &summary)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!("{} evaluation people -> {}", eval.ids.len(), ids_file.display());
    for (c, n) in &eval.per_continent {
        println!("  {c:<15} {n}");
    }
    println!(
        "{} probe tasks ({} setups, mean {:.1} demonstrations) -> {}",
        tasks.len(),
        setups.len(),
        mean_demos,
        tasks_file.display()
    );
    Ok(())
}
