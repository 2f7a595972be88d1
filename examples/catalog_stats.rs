//! Prints Table 1 and Table 6 of the paper for a metadata directory.
//!
//! ```text
//! cargo run --release --example catalog_stats -- --meta ../shared/indievalue-meta [--json]
//! ```
//!
//! The `--json` object is documented in `docs/formats.md` ("catalog_stats JSON").

use anyhow::Context;
use clap::Parser;
use indievalue::catalog::{Catalog, Granularity};
use std::path::PathBuf;

/// Catalog statistics (Tables 1 and 6 of the IndieValueCatalog paper).
#[derive(Parser)]
struct Args {
    /// Directory holding statements_meta_data.jsonl, refined_statements_meta_data.jsonl and
    /// demographics_meta_data.jsonl (default: INDIEVALUE_META_DIR).
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let meta = indievalue::catalog::meta_dir(args.meta.as_deref())?;
    let catalog = Catalog::load(&meta)
        .with_context(|| format!("loading the catalog from {}", meta.display()))?;
    let stats = catalog.stats();
    let polar = stats.answer_space(Granularity::Polar);
    let refined = stats.answer_space(Granularity::Refined);
    if args.json {
        let categories: Vec<_> = stats
            .categories
            .iter()
            .map(|row| {
                serde_json::json!({
                    "name": row.name,
                    "questions": row.questions,
                    "polar": row.polar,
                    "refined": row.refined,
                })
            })
            .collect();
        let out = serde_json::json!({
            "meta_dir": meta.display().to_string(),
            "catalog_hash": catalog.content_hash(),
            "questions": stats.questions,
            "statements_polar": stats.statements_polar,
            "statements_refined": stats.statements_refined,
            "demographics": stats.demographics,
            "answer_space_log10_polar": polar.log10,
            "answer_space_log10_refined": refined.log10,
            "answer_space_polar": polar.scientific(3),
            "answer_space_refined": refined.scientific(3),
            "categories": categories,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("Catalog {} ({})", meta.display(), &catalog.content_hash()[..12]);
    println!();
    println!("Table 1 (data conversion)");
    println!(
        "  #Questions {}   #Statements refined {}   #Statements polar {}   #Demographic items {}",
        stats.questions, stats.statements_refined, stats.statements_polar, stats.demographics
    );
    println!(
        "  answer space: polar {} (log10 {:.3}), refined {} (log10 {:.3})",
        polar.scientific(3),
        polar.log10,
        refined.scientific(3),
        refined.log10
    );
    println!();
    println!("Table 6 (per category)");
    println!(
        "  {:<52} {:>4} {:>8} {:>7} {:>8} {:>7}",
        "Question category", "#Q", "polar #S", "#S/#Q", "refin #S", "#S/#Q"
    );
    for row in &stats.categories {
        println!(
            "  {:<52} {:>4} {:>8} {:>7.2} {:>8} {:>7.2}",
            row.name,
            row.questions,
            row.polar,
            row.polar_per_question(),
            row.refined,
            row.refined_per_question()
        );
    }
    println!(
        "  {:<52} {:>4} {:>8} {:>7.2} {:>8} {:>7.2}",
        "Total",
        stats.questions,
        stats.statements_polar,
        stats.polar_per_question(),
        stats.statements_refined,
        stats.refined_per_question()
    );
    Ok(())
}
