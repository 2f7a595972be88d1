//! Runs the statistical baselines of Table 4 on sampled probe tasks and writes predictions,
//! tables, the inequity breakdown and plots.
//!
//! ```text
//! cargo run --release --example baselines -- --data data/ --tasks tasks/ --out results/ \
//!     [--meta META] [--granularity polar|refined] [--max-k 35] [--report-k 24] \
//!     [--model wvs.csv.model.json] [--paper-only] [--json]
//! ```
//!
//! `--meta` defaults to `INDIEVALUE_META_DIR`; `--model` (a synthetic model) adds the Bayes
//! ceiling; the learned reasoners, seeded with the tasks' seed, come too (the recommended one
//! marked) unless `--paper-only`. `--json`: see `docs/formats.md`.

use anyhow::Context;
use clap::Parser;
use indievalue::baselines::{
    LearnedSettings, SuiteOptions, plot_top_k, run_baseline_suite, top_k_table,
};
use indievalue::catalog::{Catalog, FileHeader, Granularity, Respondents, meta_dir};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::files::{create_dir_all, write_json_atomic};
use indievalue::metrics::{
    AccuracyReport, Bootstrap, Evaluation, SetupColumn, SetupRow, plots, setup_average, setup_table,
};
use indievalue::sampling::{
    AnswerMatrix, EVAL_IDS_FILE, EvaluationSet, PROBE_TASKS_FILE, ProbeSetup, ProbeTask,
    TASK_FORMAT, TaskFile, read_id_file, retarget_tasks,
};
use indievalue::synth::SyntheticModel;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Statistical baselines.
#[derive(Parser)]
struct Args {
    /// Dataset directory written by convert.
    #[arg(long)]
    data: PathBuf,
    /// Task directory written by sample_tasks (probe_tasks.jsonl, eval_ids.txt).
    #[arg(long)]
    tasks: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Metadata directory (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Probe and demonstration form, polar or refined (default: the tasks' own).
    #[arg(long)]
    granularity: Option<Granularity>,
    /// Largest k of the top-k sweep.
    #[arg(long, default_value_t = 35)]
    max_k: usize,
    /// The k reported as "top cluster".
    #[arg(long, default_value_t = 24)]
    report_k: usize,
    /// Degrees of freedom removed in the inequity standard deviations.
    #[arg(long, default_value_t = 1)]
    ddof: usize,
    /// A synthetic survey's model file, for the Bayes-optimal ceiling.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Only the paper's baselines (no learned reasoners).
    #[arg(long)]
    paper_only: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = meta_dir(args.meta.as_deref())?;
    let started = Instant::now();
    let catalog = Catalog::load(&meta).with_context(|| format!("loading {}", meta.display()))?;
    let people = Respondents::read_parquet(&catalog, args.data.join(RESPONDENTS_FILE))?;
    let answers = AnswerMatrix::new(&people);
    let (task_header, tasks): (FileHeader, Vec<ProbeTask>) =
        TaskFile::read(args.tasks.join(PROBE_TASKS_FILE), &catalog, TASK_FORMAT)?;
    let tasks = match args.granularity {
        Some(g) => retarget_tasks(&catalog, &people, &answers, &tasks, g)?,
        None => tasks,
    };
    let eval_ids = read_id_file(args.tasks.join(EVAL_IDS_FILE))?;
    let eval = EvaluationSet::from_ids(&catalog, &people, &eval_ids)?;
    let pool = eval.training_rows(people.len());
    let setups = ProbeSetup::of_survey(&catalog).len();
    create_dir_all(&args.out.join("plots"))?;

    let (t, (max_k, report_k)) = (Instant::now(), (args.max_k, args.report_k));
    let seed = task_header.seed;
    let learned = (!args.paper_only).then(|| LearnedSettings::new(seed));
    let options = SuiteOptions { max_k, report_k, learned };
    let results = run_baseline_suite(&catalog, &people, &answers, &pool, &tasks, &options)?;
    let baseline_seconds = t.elapsed().as_secs_f64();
    let (probe_g, demo_g) = (results.probe_granularity, results.demo_granularity);
    let params = json!({ "tasks": args.tasks.display().to_string(),
                         "probe_granularity": probe_g, "demo_granularity": demo_g });
    results.write_predictions(&args.out.join("predictions"), &catalog, seed, &params)?;
    let mut rows = vec![SetupRow::exact("Random", results.random.clone())];
    let (mut evaluations, mut inequity, mut sigma) = (Vec::new(), BTreeMap::new(), Vec::new());
    let boot = Bootstrap::default();
    for run in &results.runs {
        let e = Evaluation::compute(&catalog, &people, &run.predictions, &boot, args.ddof)?;
        if run.name == format!("top{}", args.report_k) {
            e.inequity.table().write(args.out.join(format!("inequity_{}", run.name)))?;
            // Per group of the balance item (the WVS: continent).
            let balance = catalog.survey().evaluation.balance_by.as_deref();
            if let Some(dim) = catalog.survey().inequity.iter().find(|d| Some(&*d.item) == balance)
                && let Some(groups) = e.inequity.groups(&dim.name)
            {
                let (name, k) = (dim.name.to_lowercase(), args.report_k);
                let title = format!("Resemble top-{k} accuracy per {name}");
                let stem = format!("plots/{}_accuracy", plots::file_slug(&name));
                plots::group_accuracy(args.out.join(stem), &title, &groups)?;
            }
        }
        let per_setup: Vec<f64> = e.inequity_per_setup.values().copied().collect();
        let entry =
            json!({ "per_setup": per_setup, "average": e.inequity.index, "ddof": args.ddof });
        inequity.insert(run.name.clone(), entry);
        sigma.push(format!("{} {:.2}", run.name, e.inequity.index));
        rows.push(SetupRow::measured(results.label_of(run), &e.report));
        evaluations.push(e);
    }
    let ceiling_of = |path| -> anyhow::Result<Vec<f64>> {
        Ok(SyntheticModel::load(&catalog, path)?.bayes_ceiling(&catalog, &people, &tasks)?)
    };
    let ceiling = args.model.as_deref().map(ceiling_of).transpose()?;
    rows.extend(
        ceiling.iter().map(|c| SetupRow::exact("Bayes-optimal ceiling (synthetic)", c.clone())),
    );
    let table4 = setup_table("Baseline", setups, &rows, &[SetupColumn::Interval]);
    table4.write(args.out.join("table4"))?;
    top_k_table(&results.sweep, setups).write(args.out.join("table20_top_k"))?;

    let labelled: Vec<(String, &AccuracyReport)> = (results.runs.iter().zip(&evaluations))
        .map(|(r, e)| (results.label_of(r), &e.report))
        .collect();
    let plot_dir = args.out.join("plots");
    let (stem, title) = (plot_dir.join("category_accuracy"), "Baseline accuracy per category");
    plots::report_categories(stem, title, &catalog, &catalog.categories(), &labelled)?;
    plot_top_k(plot_dir.join("top_k_sweep"), &results.sweep, setups)?;

    let per_setup_json = |r: &AccuracyReport| json!({ "per_setup": r.per_setup.values().collect::<Vec<_>>(), "average": r.setup_average() });
    let reasoners: BTreeMap<&str, f64> = (results.runs.iter().zip(&evaluations))
        .map(|(r, e)| (r.name.as_str(), e.report.setup_average()))
        .collect();
    let summary = json!({
        "survey": catalog.survey().name,
        "probe_granularity": probe_g,
        "demo_granularity": demo_g,
        "eval_people": eval.ids.len(),
        "training_pool": pool.len(),
        "tasks": tasks.len(),
        "random": { "per_setup": results.random, "average": setup_average(&results.random) },
        "global": per_setup_json(&evaluations[0].report),
        "top1": per_setup_json(&evaluations[1].report),
        "top_k": results.sweep,
        "report_k": args.report_k,
        "reasoners": reasoners,
        "recommended": results.recommended(),
        "selection": results.selection,
        "inequity": inequity,
        "bayes_ceiling": ceiling.as_ref().map(|s| json!({ "per_setup": s, "average": setup_average(s) })),
        "seconds": { "baselines": baseline_seconds, "total": started.elapsed().as_secs_f64() },
    });
    let run = json!({
        "seed": seed,
        "inputs": { "data": args.data, "tasks": args.tasks, "meta": meta, "model": args.model },
        "catalog_hash": catalog.content_hash(),
        "versions": { "indievalue": env!("CARGO_PKG_VERSION"), "tasks_written_by": task_header.written_by },
        "args": { "max_k": args.max_k, "report_k": args.report_k, "ddof": args.ddof, "granularity": args.granularity, "paper_only": args.paper_only },
    });
    write_json_atomic(&args.out.join("summary.json"), &summary)?;
    write_json_atomic(&args.out.join("run.json"), &run)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let (survey, people_n, pool_n) = (&catalog.survey().name, eval.ids.len(), pool.len());
    println!(
        "{survey}: baselines ({probe_g} probes, {demo_g} demonstrations, {people_n} people, pool {pool_n}) in {baseline_seconds:.2} s"
    );
    print!("{}", table4.to_markdown());
    if let (Some(name), Some(selection)) = (results.recommended(), &results.selection) {
        let cv: Vec<String> = (selection.accuracy.iter())
            .map(|(r, a)| format!("{} {a:.2}", r.name(results.report_k)))
            .collect();
        println!("recommended by cross-validation on the pool: {name} ({})", cv.join(", "));
    }
    println!("sigma-INEQUITY (ddof {}): {}", args.ddof, sigma.join(", "));
    println!("written to {}", args.out.display());
    Ok(())
}
