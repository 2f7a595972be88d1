//! What an experiment is to the runner: the tasks and reasoners it needs, and its section of
//! the report.

use crate::Result;
use crate::data::Dataset;
use crate::plan::Plan;
use crate::runner::Results;
use indievalue_catalog::{Catalog, Category, Granularity};
use indievalue_metrics::Table;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The probe tasks a need runs on: every evaluation person, every setup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TaskRequest {
    /// The probes' statement form.
    pub probe: Granularity,
    /// The demonstrations' statement form.
    pub demo: Granularity,
    /// Demonstrations per task (already scaled to the catalog).
    pub demonstrations: usize,
    /// Whether the person's demographic statements come first.
    pub demographics: bool,
    /// Demonstrations only from this category's questions (Figure 8).
    pub demo_category: Option<Category>,
}

impl TaskRequest {
    /// Polar demonstrations, `probe` probes, no demographics: the main probing setting.
    pub fn main(probe: Granularity, demonstrations: usize) -> TaskRequest {
        TaskRequest {
            probe,
            demo: Granularity::Polar,
            demonstrations,
            demographics: false,
            demo_category: None,
        }
    }
}

/// One reasoner on one task set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Need {
    /// The tasks.
    pub tasks: TaskRequest,
    /// The reasoner's name (`baselines` or a `[[reasoner]]`).
    pub reasoner: String,
}

/// A table of a section: its file stem and content.
#[derive(Debug, Clone)]
pub struct SectionTable {
    /// File stem under `tables/` (`table4_polar`).
    pub stem: String,
    /// The table.
    pub table: Table,
}

/// An experiment's section of `REPORT.md`.
#[derive(Debug, Clone)]
pub struct Section {
    /// The heading, starting with the paper's label (`Table 4 / Table 15: ...`).
    pub heading: String,
    /// Markdown under the heading (tables, plot links, notes); no timings, so the report is
    /// the same bytes for the same plan.
    pub body: String,
}

/// What an experiment renders from.
pub struct RenderContext<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// The catalog.
    pub catalog: &'a Catalog,
    /// The data.
    pub data: &'a Dataset,
    /// Every need's outcome.
    pub results: &'a Results,
    /// The report's directory.
    pub out: &'a Path,
    /// Demonstrations per task after scaling.
    pub demonstrations: usize,
    /// Whether the paper's figures go beside ours (the real survey on the full catalog).
    pub paper: bool,
}

impl RenderContext<'_> {
    /// Writes `table` as `tables/STEM.csv` and returns its Markdown with a link to the CSV.
    pub fn table(&self, stem: &str, table: &Table) -> Result<String> {
        let dir = self.out.join("tables");
        indievalue_files::create_dir_all(&dir)?;
        let csv = dir.join(format!("{stem}.csv"));
        indievalue_files::write_atomic(&csv, table.to_csv().as_bytes())?;
        Ok(format!(
            "{}\n[CSV](tables/{stem}.csv)\n",
            table.to_markdown()
        ))
    }

    /// The stem of a plot under `plots/` (the plot functions add `.png` and `.svg`).
    pub fn plot_stem(&self, stem: &str) -> Result<PathBuf> {
        let dir = self.out.join("plots");
        indievalue_files::create_dir_all(&dir)?;
        Ok(dir.join(stem))
    }

    /// Markdown showing the plot `stem` (PNG inline, SVG linked).
    pub fn plot_link(&self, stem: &str, alt: &str) -> String {
        format!("![{alt}](plots/{stem}.png) ([SVG](plots/{stem}.svg))\n")
    }
}

/// An experiment of the paper.
pub trait Experiment {
    /// The plan's `kind` of it.
    fn kind(&self) -> &'static str;
    /// The paper's labels it reproduces, spelled as the paper does (`Table 4 / Table 15`).
    fn label(&self) -> &'static str;
    /// The tasks and reasoners it needs (none for experiments on the data alone).
    fn needs(&self, plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need>;
    /// Its section of the report (writing its tables and plots under `ctx.out`).
    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section>;
}
