//! Runs the statistical baselines of Table 4 on sampled probe tasks and writes predictions,
//! tables, the inequity breakdown and plots.
//!
//! ```text
//! cargo run --release --example baselines -- --data data/ --tasks tasks/ --out results/ \
//!     [--meta META] [--granularity polar|refined] [--max-k 35] [--report-k 24] \
//!     [--model wvs.csv.model.json] [--json]
//! ```
//!
//! `--meta` defaults to `INDIEVALUE_META_DIR`. `--model` (a synthetic survey's model) adds the
//! exact Bayes-optimal ceiling. The `--json` summary is documented in `docs/formats.md`.

use anyhow::{Context, bail};
use clap::Parser;
use indievalue::baselines::{GlobalMajority, ResembleIndex, random_accuracy, resemble_sweep};
use indievalue::catalog::{Catalog, Category, Granularity, Respondents};
use indievalue::convert::RESPONDENTS_FILE;
use indievalue::metrics::{
    AccuracyReport, Bootstrap, Dimension, InequityIndex, PREDICTIONS_FORMAT, Prediction,
    PredictionsFile, Table, plots,
};
use indievalue::sampling::{
    AnswerMatrix, EvaluationSet, ProbeSetup, ProbeTask, TASK_FORMAT, TaskFile, TaskFileHeader,
    read_id_file, retarget_tasks,
};
use indievalue::synth::{Evidence, SyntheticModel};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Statistical baselines.
#[derive(Parser)]
struct Args {
    /// Dataset directory written by convert_wvs.
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
    /// Probe and demonstration form (default: the tasks' own).
    #[arg(long)]
    granularity: Option<String>,
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
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

fn per_setup_json(report: &AccuracyReport) -> serde_json::Value {
    json!({ "per_setup": report.per_setup.values().collect::<Vec<_>>(), "average": report.setup_average() })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = match &args.meta {
        Some(m) => m.clone(),
        None => indievalue::catalog::meta_dir_from_env()
            .context("--meta not given and INDIEVALUE_META_DIR not set")?,
    };
    if args.report_k == 0 || args.report_k > args.max_k {
        bail!("--report-k must be in 1..=--max-k");
    }
    let started = Instant::now();
    let catalog = Catalog::load(&meta).with_context(|| format!("loading {}", meta.display()))?;
    let people = Respondents::read_parquet(&catalog, args.data.join(RESPONDENTS_FILE))?;
    let answers = AnswerMatrix::new(&people);
    let (task_header, tasks): (TaskFileHeader, Vec<ProbeTask>) =
        TaskFile::read(args.tasks.join("probe_tasks.jsonl"), &catalog, TASK_FORMAT)?;
    let tasks = match &args.granularity {
        Some(g) => {
            let g = Granularity::from_name(g).context("--granularity: polar or refined")?;
            retarget_tasks(&catalog, &people, &answers, &tasks, g)?
        }
        None => tasks,
    };
    let Some(first) = tasks.first() else {
        bail!("no tasks in {}", args.tasks.display());
    };
    let (probe_g, demo_g) = (first.probe_granularity, first.demo_granularity);
    let eval_ids = read_id_file(args.tasks.join("eval_ids.txt"))?;
    let eval = EvaluationSet::from_ids(&catalog, &people, &eval_ids)?;
    let pool = eval.training_rows(people.len());
    let setups = ProbeSetup::paper(&catalog);
    std::fs::create_dir_all(args.out.join("predictions"))?;
    std::fs::create_dir_all(args.out.join("plots"))?;

    // The baselines.
    let t = Instant::now();
    let random = random_accuracy(&catalog, &setups, probe_g);
    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    let global_predictions = global.predictions(&catalog, &tasks)?;
    let index = ResembleIndex::build(&catalog, &people, &answers, &pool, demo_g)?;
    let sweep = resemble_sweep(
        &catalog,
        &answers,
        &index,
        &global,
        &tasks,
        args.max_k,
        &[1, args.report_k],
    )?;
    let baseline_seconds = t.elapsed().as_secs_f64();
    let top_name = format!("top{}", args.report_k);
    let runs: Vec<(String, &Vec<Prediction>)> = vec![
        ("global".into(), &global_predictions),
        ("top1".into(), &sweep.predictions[&1]),
        (top_name.clone(), &sweep.predictions[&args.report_k]),
    ];
    let bootstrap = Bootstrap::default();
    let mut reports = Vec::new();
    for (name, predictions) in &runs {
        let header = TaskFileHeader::new(
            PREDICTIONS_FORMAT,
            &catalog,
            task_header.seed,
            json!({ "reasoner": name, "tasks": args.tasks.display().to_string(),
                    "probe_granularity": probe_g, "demo_granularity": demo_g }),
        );
        PredictionsFile::write(
            args.out.join("predictions").join(format!("{name}.jsonl")),
            &header,
            predictions,
        )?;
        reports.push(AccuracyReport::compute(&catalog, predictions, &bootstrap)?);
    }

    // Exact Bayes ceiling for synthetic data.
    let ceiling = match &args.model {
        Some(path) => Some(bayes_ceiling(&catalog, &people, &tasks, path)?),
        None => None,
    };

    // Table 4 style summary.
    let setup_cols: Vec<String> = (1..=setups.len()).map(|s| format!("setup {s}")).collect();
    let mut table4 = Table::new(
        std::iter::once("Baseline".to_owned())
            .chain(setup_cols.clone())
            .chain(["avg".to_owned(), "95% CI (people)".to_owned()]),
    );
    let fmt = |v: f64| format!("{v:.2}");
    let mut row = vec!["Random".to_owned()];
    row.extend(random.iter().map(|&v| fmt(v)));
    row.push(fmt(random.iter().sum::<f64>() / random.len() as f64));
    row.push("exact".into());
    table4.push(row);
    let labels = [
        "Global".to_owned(),
        "Resemble (top 1)".to_owned(),
        format!("Resemble (top cluster, k={})", args.report_k),
    ];
    for (label, r) in labels.iter().zip(&reports) {
        let mut row = vec![label.clone()];
        row.extend(r.per_setup.values().map(|&v| fmt(v)));
        row.push(fmt(r.setup_average()));
        row.push(format!("{:.2}-{:.2}", r.ci_low, r.ci_high));
        table4.push(row);
    }
    if let Some((per_setup, avg)) = &ceiling {
        let mut row = vec!["Bayes-optimal ceiling (synthetic)".to_owned()];
        row.extend(per_setup.iter().map(|&v| fmt(v)));
        row.push(fmt(*avg));
        row.push("exact".into());
        table4.push(row);
    }
    table4.write(args.out.join("table4"))?;

    // Table 20 sweep.
    let mut table20 = Table::new(
        std::iter::once("k".to_owned())
            .chain(setup_cols)
            .chain(["avg".to_owned()]),
    );
    for p in &sweep.points {
        let mut row = vec![p.k.to_string()];
        row.extend(p.per_setup.values().map(|&v| fmt(v)));
        row.push(fmt(p.average));
        table20.push(row);
    }
    table20.write(args.out.join("table20_top_k"))?;

    // Inequity, overall and per setup, for every baseline.
    let dims = Dimension::paper();
    let mut inequity = BTreeMap::new();
    for ((name, predictions), report) in runs.iter().zip(&reports) {
        let overall =
            InequityIndex::compute(&catalog, &people, &report.per_person, &dims, args.ddof)?;
        let mut per_setup = Vec::new();
        for s in report.per_setup.keys() {
            let only: Vec<Prediction> = predictions
                .iter()
                .filter(|p| p.setup == *s)
                .cloned()
                .collect();
            let r = AccuracyReport::compute(
                &catalog,
                &only,
                &Bootstrap {
                    samples: 0,
                    ..bootstrap
                },
            )?;
            per_setup.push(
                InequityIndex::compute(&catalog, &people, &r.per_person, &dims, args.ddof)?.index,
            );
        }
        if name == &top_name {
            overall
                .table()
                .write(args.out.join(format!("inequity_{name}")))?;
            let continent = overall.rows.iter().find(|r| r.dimension == "Continent");
            if let Some(row) = continent {
                let groups: Vec<(String, f64)> = row
                    .groups
                    .iter()
                    .map(|g| (g.group.clone(), g.accuracy))
                    .collect();
                plots::group_accuracy(
                    args.out.join("plots").join("continent_accuracy"),
                    &format!("Resemble top-{} accuracy per continent", args.report_k),
                    &groups,
                )?;
            }
        }
        inequity.insert(
            name.clone(),
            json!({ "per_setup": per_setup, "average": overall.index, "ddof": args.ddof }),
        );
    }

    // Plots.
    let categories: Vec<Category> = catalog.categories();
    let names: Vec<String> = categories
        .iter()
        .map(|c| c.short_name().to_owned())
        .collect();
    let series: Vec<(String, Vec<f64>)> = labels
        .iter()
        .zip(&reports)
        .map(|(label, r)| {
            let by: BTreeMap<Category, f64> = r
                .per_category
                .iter()
                .map(|c| (c.category, c.accuracy))
                .collect();
            (
                label.clone(),
                categories
                    .iter()
                    .map(|c| by.get(c).copied().unwrap_or(0.0))
                    .collect(),
            )
        })
        .collect();
    plots::category_accuracy(
        args.out.join("plots").join("category_accuracy"),
        "Baseline accuracy per category",
        &names,
        &series,
    )?;
    let ks: Vec<usize> = sweep.points.iter().map(|p| p.k).collect();
    let mut lines: Vec<(String, Vec<f64>)> = (0..setups.len())
        .map(|s| {
            (
                format!("setup {}", s + 1),
                sweep
                    .points
                    .iter()
                    .map(|p| p.per_setup.get(&s).copied().unwrap_or(f64::NAN))
                    .collect(),
            )
        })
        .collect();
    lines.push((
        "average".into(),
        sweep.points.iter().map(|p| p.average).collect(),
    ));
    plots::top_k_sweep(
        args.out.join("plots").join("top_k_sweep"),
        "Resemble top-k sweep",
        &ks,
        &lines,
    )?;

    let summary = json!({
        "probe_granularity": probe_g,
        "demo_granularity": demo_g,
        "eval_people": eval.ids.len(),
        "training_pool": pool.len(),
        "tasks": tasks.len(),
        "random": { "per_setup": random, "average": random.iter().sum::<f64>() / random.len() as f64 },
        "global": per_setup_json(&reports[0]),
        "top1": per_setup_json(&reports[1]),
        "top_k": sweep.points,
        "report_k": args.report_k,
        "inequity": inequity,
        "bayes_ceiling": ceiling.as_ref().map(|(s, a)| json!({ "per_setup": s, "average": a })),
        "seconds": { "baselines": baseline_seconds, "total": started.elapsed().as_secs_f64() },
    });
    let run = json!({
        "seed": task_header.seed,
        "inputs": { "data": args.data, "tasks": args.tasks, "meta": meta, "model": args.model },
        "catalog_hash": catalog.content_hash(),
        "versions": { "indievalue": env!("CARGO_PKG_VERSION"), "tasks_written_by": task_header.written_by },
        "args": { "max_k": args.max_k, "report_k": args.report_k, "ddof": args.ddof, "granularity": args.granularity },
    });
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    std::fs::write(args.out.join("run.json"), serde_json::to_vec_pretty(&run)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "Baselines ({probe_g} probes, {demo_g} demonstrations, {} people, pool {}) in {:.2} s",
        eval.ids.len(),
        pool.len(),
        baseline_seconds
    );
    print!("{}", table4.to_markdown());
    println!(
        "sigma-INEQUITY (ddof {}): {}",
        args.ddof,
        inequity
            .iter()
            .map(|(k, v)| format!("{k} {:.2}", v["average"].as_f64().unwrap_or(f64::NAN)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("written to {}", args.out.display());
    Ok(())
}

/// The exact Bayes-optimal accuracy per setup (and its average): for every probe, the largest
/// posterior predictive probability given the person's country, demographics and the task's
/// demonstrations.
fn bayes_ceiling(
    catalog: &Catalog,
    people: &Respondents,
    tasks: &[ProbeTask],
    model_path: &std::path::Path,
) -> anyhow::Result<(Vec<f64>, f64)> {
    let model = SyntheticModel::load(catalog, model_path)?;
    let rows: std::collections::HashMap<i64, usize> = people
        .ids()
        .iter()
        .enumerate()
        .map(|(r, &id)| (id, r))
        .collect();
    let country = catalog.demographic_index(indievalue::catalog::COUNTRY_ITEM);
    let mut per_setup: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for task in tasks {
        let row = *rows
            .get(&task.person)
            .context("task person not in the data")?;
        let demographics: Vec<(usize, u16)> = (0..catalog.demographics().len())
            .filter_map(|d| people.demographic_option(row, d).map(|o| (d, o)))
            .collect();
        let demos: Vec<(usize, u8)> = task
            .demonstrations
            .iter()
            .filter_map(|d| {
                catalog
                    .question_index(&d.question)
                    .map(|q| (q, d.statement))
            })
            .collect();
        let evidence = Evidence {
            country: country.map(|d| people.demographic(d).raw[row]),
            demographics: &demographics,
            answers: &demos,
        };
        // The demonstrations' granularity shapes the evidence; probes are scored at theirs.
        let post = model.profile_posterior(catalog, task.demo_granularity, &evidence);
        let mut sum = 0.0;
        for probe in &task.probes {
            let q = catalog
                .question_index(&probe.question)
                .context("unknown probe question")?;
            let best = model
                .predictive_from_posterior(catalog, task.probe_granularity, &post, q)
                .into_iter()
                .fold(0.0f64, f64::max);
            sum += best;
        }
        let e = per_setup.entry(task.setup).or_default();
        e.0 += 100.0 * sum / task.probes.len().max(1) as f64;
        e.1 += 1;
    }
    let values: Vec<f64> = per_setup.values().map(|(s, n)| s / *n as f64).collect();
    let avg = values.iter().sum::<f64>() / values.len().max(1) as f64;
    Ok((values, avg))
}
