//! Writes a synthetic survey in the raw WVS Wave 7 CSV layout, plus its model (for exact ceilings).
//!
//! ```text
//! cargo run --release --example synth_wvs -- --meta fixtures/mini-meta --people 5000 --seed 1 --out out/wvs.csv
//! ```
//!
//! The model is written beside the CSV as `FILE.model.json`.

use anyhow::Context;
use clap::Parser;
use indievalue::catalog::Catalog;
use indievalue::synth::{SynthConfig, SyntheticModel};
use std::path::PathBuf;
use std::time::Instant;

/// Synthetic survey generator.
#[derive(Parser)]
struct Args {
    /// Metadata directory of the catalog (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Number of people.
    #[arg(long, default_value_t = 1000)]
    people: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of latent value profiles.
    #[arg(long, default_value_t = 8)]
    profiles: usize,
    /// Probability of a duplicated interview row after each person.
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    /// Output CSV file.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = indievalue::catalog::meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)
        .with_context(|| format!("loading the catalog from {}", meta.display()))?;
    let config = SynthConfig {
        people: args.people,
        seed: args.seed,
        profiles: args.profiles,
        duplicate_rate: args.duplicate_rate,
        ..Default::default()
    };
    if let Some(parent) = args.out.parent() {
        indievalue::files::create_dir_all(parent)?;
    }
    let start = Instant::now();
    let model = SyntheticModel::new(&catalog, &config)?;
    let summary = model.write_csv(&catalog, &args.out)?;
    let mut model_path = args.out.clone().into_os_string();
    model_path.push(".model.json");
    model.save(&model_path)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "wrote {} ({} rows, {} duplicates, {:.1} MB) in {:.2} s; model in {}",
        args.out.display(),
        summary.rows,
        summary.duplicate_rows,
        summary.bytes as f64 / 1e6,
        seconds,
        PathBuf::from(model_path).display()
    );
    Ok(())
}
