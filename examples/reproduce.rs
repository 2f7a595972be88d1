//! The paper's experiments from one plan: tables, plots and a report with the paper's figures
//! beside ours (`indievalue::experiments`). With no arguments it runs the embedded default plan
//! (`plans/small.toml`: a synthetic survey, the baselines everywhere, SmolLM2-135M for Table 4
//! on a few people). Rerun the same command after an interruption: it resumes, and a finished
//! plan reruns in seconds.
//!
//! ```text
//! bash scripts/fetch_models.sh
//! cargo run --release --example reproduce [-- --plan plans/paper.toml --out out/paper]
//! cargo run --release --example reproduce -- --dry-run     # what would run, calls and tokens
//! ```

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::experiments::{Event, Job, JobKind, JobStatus, Plan, Runner};
use std::path::PathBuf;
use std::time::Instant;

#[path = "common/allocator.rs"]
mod allocator;

/// Runs a reproduction plan.
#[derive(Parser)]
struct Args {
    /// The plan (TOML); default: the embedded `plans/small.toml`.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Output directory (REPORT.md, tables/, plots/, manifest.json, store/).
    #[arg(long, default_value = "out/reproduce")]
    out: PathBuf,
    /// The statement metadata when the plan names none (default: INDIEVALUE_META_DIR, else the
    /// embedded mini catalog).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// List the jobs, what exists and what is left, with model calls and tokens; run nothing.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> anyhow::Result<()> {
    allocator::keep_freed_memory();
    let args = Args::parse();
    let plan = match &args.plan {
        Some(path) => Plan::load(path)?,
        None => Plan::embedded_default()?,
    };
    let meta = args
        .meta
        .clone()
        .or_else(indievalue::catalog::meta_dir_from_env)
        .unwrap_or_else(indievalue_testdata::mini_catalog_dir);
    let runner = Runner::with_meta(plan, &args.out, meta)?;
    if args.dry_run {
        print_jobs(&runner.dry_run()?);
        return Ok(());
    }
    let clock = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} model tasks {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Lines above the bar (on stderr when the bar is hidden, as when piped).
    let say = |line: String| if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) };
    let (mut experiments, mut done, mut tokens) = (runner.plan().experiments.len(), 0, 0u64);
    let files = runner.run(&mut |event| match event {
        Event::Planned { jobs } => {
            let model_left: usize = jobs
                .iter()
                .filter(|j| matches!(j.kind, JobKind::Model(_)))
                .map(|j| j.tasks - j.tasks_done)
                .sum();
            bar.set_length(model_left as u64);
            experiments = runner.plan().experiments.len();
            bar.set_message(format!("experiments 0/{experiments}"));
        }
        Event::JobStarted(job) => {
            say(format!(
                "running {} on {:?} tasks ({})",
                job.need.reasoner,
                job.need.tasks.probe,
                &job.key[..12]
            ));
        }
        Event::TaskDone { tokens: t, .. } => {
            tokens += t as u64;
            bar.inc(1);
            bar.set_message(format!("experiments {done}/{experiments}, {tokens} tokens"));
        }
        Event::JobDone(_) => {}
        Event::ExperimentDone { label, seconds } => {
            done += 1;
            say(format!("done: {label} ({seconds:.1} s)"));
            bar.set_message(format!("experiments {done}/{experiments}, {tokens} tokens"));
        }
    })?;
    bar.finish_and_clear();
    println!(
        "{} sections in {} ({:.1} s, {tokens} model tokens); manifest {}",
        files.sections.len(),
        files.report_md.display(),
        clock.elapsed().as_secs_f64(),
        files.manifest.display()
    );
    Ok(())
}

fn print_jobs(jobs: &[Job]) {
    let (mut tasks, mut probes, mut tokens) = (0, 0, 0);
    for j in jobs {
        let status = match j.status {
            JobStatus::Done => "done",
            JobStatus::Partial => "partial",
            JobStatus::Todo => "to run",
        };
        println!(
            "{:<8} {:<12} {:?} probes, {} demonstrations: {}/{} tasks done, {} probes and about {} tokens left  [{}] {}",
            status,
            j.need.reasoner,
            j.need.tasks.probe,
            j.need.tasks.demonstrations,
            j.tasks_done,
            j.tasks,
            j.probes_left,
            j.tokens_left_estimate,
            &j.key[..12],
            j.experiments.join(", ")
        );
        if matches!(j.kind, JobKind::Model(_)) {
            tasks += j.tasks - j.tasks_done;
            probes += j.probes_left;
            tokens += j.tokens_left_estimate;
        }
    }
    println!(
        "{} jobs; model work left: {tasks} tasks, {probes} probes, about {tokens} prompt tokens (characters / 4)",
        jobs.len()
    );
}
