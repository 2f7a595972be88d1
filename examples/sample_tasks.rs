//! Samples the evaluation set and the probe tasks of the survey's setups (the WVS: three).
//!
//! ```text
//! cargo run --release --example sample_tasks -- --data data/ --meta META --out tasks/ \
//!     [--eval-ids FILE] [--demos 200|mixed] [--granularity polar|refined] \
//!     [--with-demographics] [--eval-people N] [--allow-fewer-people] [--seed S] [--json]
//! ```
//!
//! `--demos` and `--eval-people` default to the survey's (`survey.toml`; the WVS: 200 and 800).
//! Writes `eval_ids.txt` (one person id per line), `probe_tasks.jsonl` and `summary.json`.

use anyhow::Context;
use clap::Parser;
use indievalue::catalog::{Catalog, FileHeader, Granularity, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::files::{create_dir_all, write_json_atomic};
use indievalue::sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EVAL_IDS_FILE, EvalCriteria, EvaluationSet, PROBE_TASKS_FILE,
    ProbeSetup, TASK_FORMAT, TaskFile, TaskSpec, WRITTEN_BY, build_probe_tasks, read_id_file,
    select_evaluation_set, survey_demo_mode, write_id_file,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Probe-task sampler.
#[derive(Parser)]
struct Args {
    /// Dataset directory written by convert.
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
    /// Demonstrations: a number, `mixed` (50..200) or `demographics` (default: the survey's).
    #[arg(long)]
    demos: Option<DemoMode>,
    /// Statement form of probes and demonstrations (polar or refined).
    #[arg(long, default_value = "polar")]
    granularity: Granularity,
    /// Prepend the person's demographic statements.
    #[arg(long)]
    with_demographics: bool,
    /// Evaluation people (default: the survey's).
    #[arg(long)]
    eval_people: Option<usize>,
    /// Take every qualifying person when fewer than asked qualify (with a warning).
    #[arg(long)]
    allow_fewer_people: bool,
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
    let setups = ProbeSetup::of_survey(&catalog);
    let (granularity, mode) = (args.granularity, args.demos.unwrap_or(survey_demo_mode(&catalog)));
    let fixed = match mode {
        DemoMode::Fixed(n) => Some(n),
        _ => None,
    };
    let mut criteria = EvalCriteria::of_survey(&catalog, fixed);
    criteria.people = args.eval_people.unwrap_or(criteria.people);
    criteria.allow_fewer = args.allow_fewer_people;
    if let Some(n) = args.min_valid_answers {
        criteria.min_valid_answers = n;
    }
    let eval = match &args.eval_ids {
        Some(file) => EvaluationSet::from_ids(&catalog, &people, &read_id_file(file)?)?,
        None => select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, args.seed)?,
    };
    if eval.short > 0 {
        eprintln!("warning: {} evaluation people, {} fewer than asked", eval.ids.len(), eval.short);
    }
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

    // People per answer of the capped item (the WVS: religion).
    let capped = catalog.demographic_index(&criteria.religion_item);
    let per_capped: Option<BTreeMap<String, usize>> = capped.map(|d| {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for &r in &eval.rows {
            let name = people.demographic_option(r, d).map_or_else(
                || "(no answer)".to_owned(),
                |o| catalog.demographics()[d].options()[o as usize].label.clone(),
            );
            *per.entry(name).or_default() += 1;
        }
        per
    });
    let mean_demos = tasks.iter().map(|t| t.demonstrations.len() as f64).sum::<f64>()
        / tasks.len().max(1) as f64;
    let summary = serde_json::json!({
        "setups": setup_ids,
        "eval_ids_file": ids_file.display().to_string(),
        "tasks_file": tasks_file.display().to_string(),
        "eval_people": eval.ids.len(),
        "survey": catalog.survey().name,
        "balance_by": eval.balance_by,
        "per_group": eval.per_group,
        "eligible_per_group": eval.eligible_per_group,
        "candidates_per_group": eval.candidates_per_group,
        "per_capped_item": per_capped,
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
    println!(
        "{}: {} evaluation people -> {}",
        catalog.survey().name,
        eval.ids.len(),
        ids_file.display()
    );
    for (c, n) in &eval.per_group {
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
