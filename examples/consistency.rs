//! Measures a language model on a consistency sanity set: tasks whose demonstrations settle every
//! probe (see `indievalue::sampling::consistency_tasks`). A model that reads its demonstrations
//! is well above chance here whoever the person is; one near chance does not use them.
//!
//! ```text
//! bash scripts/fetch_models.sh
//! cargo run --release --example consistency -- \
//!     --model .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --meta $META \
//!     --settling refined-for-polar --targets statement,label [--people 1] [--fillers 40] [--write-tasks DIR]
//! ```
//!
//! `--write-tasks DIR` also writes the set as `DIR/probe_tasks.jsonl`, for the `probe` example
//! (generative mode, or another model).

use anyhow::{Context, Result};
#[path = "common/model_args.rs"]
mod common;

use clap::Parser;
use indievalue::catalog::{Catalog, FileHeader, meta_dir};
use indievalue::files::create_dir_all;
use indievalue::probe::{ScoreTarget, ScoringPredictor};
use indievalue::sampling::{
    ConsistencySpec, PROBE_TASKS_FILE, ProbeSetup, SettlingStatement, TASK_FORMAT, TaskFile,
    WRITTEN_BY, chance_accuracy, consistency_tasks,
};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Score a language model on a consistency sanity set")]
struct Args {
    #[command(flatten)]
    model: common::ModelArgs,
    #[command(flatten)]
    adapter: common::AdapterArg,
    /// The statement metadata (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// same-polar, same-refined or refined-for-polar.
    #[arg(long, default_value = "same-polar")]
    settling: SettlingStatement,
    /// Filler demonstrations per task (questions outside the setup).
    #[arg(long, default_value_t = 40)]
    fillers: usize,
    /// People (each gives one task per setup).
    #[arg(long, default_value_t = 1)]
    people: usize,
    /// Setups to run (1-based, comma separated).
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    setups: Vec<usize>,
    /// What to score, comma separated: label, answer, statement.
    #[arg(long, default_value = "statement,label", value_delimiter = ',')]
    targets: Vec<ScoreTarget>,
    /// Continuations run together.
    #[arg(long, default_value_t = 8)]
    batch_rows: usize,
    /// Seed of the set.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also write the set here as probe_tasks.jsonl.
    #[arg(long)]
    write_tasks: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let meta = meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta).with_context(|| format!("loading {}", meta.display()))?;
    let (settling, targets) = (args.settling, args.targets.clone());
    let setups = ProbeSetup::of_survey(&catalog);
    let mut chosen = Vec::new();
    for &i in &args.setups {
        anyhow::ensure!((1..=setups.len()).contains(&i), "--setups {i}: 1 to {}", setups.len());
        chosen.push(i - 1);
    }
    let spec = ConsistencySpec { settling, fillers: args.fillers, seed: args.seed };
    let mut tasks = consistency_tasks(&catalog, &setups, args.people, &spec)?;
    tasks.retain(|t| chosen.contains(&t.setup));
    if let Some(dir) = &args.write_tasks {
        create_dir_all(dir)?;
        let header = FileHeader::new(
            TASK_FORMAT,
            &catalog,
            args.seed,
            WRITTEN_BY,
            serde_json::json!({ "consistency": spec, "people": args.people, "setups": args.setups }),
        );
        TaskFile::write(dir.join(PROBE_TASKS_FILE), &header, &tasks)?;
        eprintln!("wrote {} tasks to {}", tasks.len(), dir.display());
    }
    let model = args.model.load(args.adapter.adapter.as_deref())?;
    let probes: usize = tasks.iter().map(|t| t.probes.len()).sum();
    let chance = chance_accuracy(&tasks);
    println!(
        "consistency set: {} tasks, {probes} probes ({:?}, {} fillers), chance {:.1} %",
        tasks.len(),
        settling,
        args.fillers,
        chance
    );
    for target in targets {
        let mut scorer = ScoringPredictor::new(&model, &catalog);
        scorer.target = target;
        scorer.batch_rows = args.batch_rows;
        let clock = Instant::now();
        let (mut right, mut log_loss) = (0usize, 0f64);
        for task in &tasks {
            for p in scorer.score(task)?.predictions {
                right += usize::from(p.correct());
                if let Some(probs) = &p.probabilities {
                    log_loss -= f64::from(probs[usize::from(p.gold)].max(1e-12)).ln();
                }
            }
        }
        println!(
            "  {target:?}: accuracy {:.1} % ({right}/{probes}), log-loss {:.3}, {:.1} s",
            100.0 * right as f64 / probes as f64,
            log_loss / probes as f64,
            clock.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
