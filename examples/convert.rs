//! Converts a raw survey CSV (the WVS Wave 7 file, a synthetic one, or any survey a directory
//! describes) into the catalog's Parquet dataset.
//!
//! ```text
//! cargo run --release --example convert -- --csv WVS_Cross-National_Wave_7_csv_v6_0.csv \
//!     --meta path/to/meta_data --out data/ [--json]
//! cargo run --release --example convert -- --csv .cache/surveys/gss-spending.csv \
//!     --meta surveys/gss-spending --out data/gss/
//! ```
//!
//! `--wvs FILE` is another spelling of `--csv FILE`. Writes `data/respondents.parquet` and
//! `data/report.json`; prints Table 1's figures (or, with `--json`, the report). A progress bar
//! runs on stderr.

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::catalog::Catalog;
use indievalue::convert::{
    ConvertOptions, EmptyCell, REPORT_FILE, RESPONDENTS_FILE, convert_file_with_progress,
    write_dataset,
};
use std::path::PathBuf;
use std::time::Instant;

// mimalloc reuses freed pages instead of returning them to the kernel, which saves page faults on
// the converter's large column vectors.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Survey CSV to Parquet converter.
#[derive(Parser)]
struct Args {
    /// The raw survey CSV.
    #[arg(long, alias = "wvs")]
    csv: PathBuf,
    /// The survey description: metadata directory (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Output dataset directory.
    #[arg(long)]
    out: PathBuf,
    /// Read empty cells as this code instead of failing (e.g. -5).
    #[arg(long, allow_hyphen_values = true)]
    empty_as: Option<i32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = indievalue::catalog::meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)
        .with_context(|| format!("loading the catalog from {}", meta.display()))?;
    let size = std::fs::metadata(&args.csv)
        .with_context(|| format!("reading {}", args.csv.display()))?
        .len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} converting [{bar:40}] {bytes}/{total_bytes} {msg}",
        )?
        .progress_chars("=> "),
    );
    let options =
        ConvertOptions { empty_cell: args.empty_as.map_or(EmptyCell::Error, EmptyCell::Code) };
    let start = Instant::now();
    let conversion = convert_file_with_progress(&catalog, &args.csv, &options, &mut |p| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} rows", p.rows));
    })?;
    let parsed = start.elapsed();
    write_dataset(&catalog, &conversion, &args.out)?;
    bar.finish_and_clear();
    let r = &conversion.report;
    if args.json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!("Table 1, data with valid labels: {} ({})", catalog.survey().name, args.csv.display());
    println!("  people                       {}", r.people);
    println!("  valid answers                {}", r.valid_answers);
    println!(
        "  valid answers per person     {:.2} (sd {:.2})",
        r.valid_per_person_mean, r.valid_per_person_sd
    );
    println!("  people with all {} answered {}", r.questions, r.people_all_253);
    println!("  duplicates dropped           {}", r.duplicates_dropped);
    if let Some(line) = r.truncated_last_line {
        println!("  truncated last line dropped  line {line}");
    }
    if r.last_line_unterminated {
        eprintln!("warning: the file does not end with a line end; its last row may be cut short");
    }
    println!("  valid demographics / person  {:.2}", r.valid_demographics_mean);
    if let Some(item) = &r.balance_by {
        let per: Vec<String> = r.per_group.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  per {item:<24} {}", per.join(", "));
    }
    let unmapped: u64 = r.invalid_demographic_codes.iter().map(|c| c.total).sum();
    println!("  no valid demographic answer  {unmapped} (per item in {REPORT_FILE})");
    println!(
        "wrote {} and {} in {} ({:.2} s parse+map, {:.2} s total)",
        RESPONDENTS_FILE,
        REPORT_FILE,
        args.out.display(),
        parsed.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
