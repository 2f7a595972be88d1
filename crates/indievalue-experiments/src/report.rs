//! `REPORT.md` and `manifest.json`: the sections in plan order, and what made them.

use crate::experiment::{RenderContext, Section};
use crate::plan::Plan;
use crate::runner::{Job, JobKind, JobStatus};
use crate::{Result, store::FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The report's file.
pub const REPORT_FILE: &str = "REPORT.md";
/// The manifest's file.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Time and model tokens an experiment took in the run that wrote the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentTiming {
    /// The experiment's label.
    pub label: String,
    /// Seconds of its jobs and rendering in this run (0 for jobs found done).
    pub seconds: f64,
    /// Model tokens its jobs ran in this run.
    pub model_tokens: u64,
}

/// What made a report: inputs, seeds, models, versions, and this run's timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format tag.
    pub format: String,
    /// The plan as parsed.
    pub plan: Plan,
    /// Where the plan came from.
    pub plan_source: String,
    /// The data: source and hash.
    pub data: serde_json::Value,
    /// The metadata directory and the catalog's hash.
    pub catalog: serde_json::Value,
    /// Model files and their hashes, by reasoner.
    pub models: BTreeMap<String, serde_json::Value>,
    /// Versions of what wrote the files.
    pub versions: BTreeMap<String, String>,
    /// Every job: its key, reasoner, tasks, and whether this run found it done.
    pub jobs: Vec<serde_json::Value>,
    /// Time and tokens per experiment in this run.
    pub experiments: Vec<ExperimentTiming>,
    /// When this run finished (seconds since the Unix epoch).
    pub finished_unix: u64,
}

/// The files a run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    /// `OUT/REPORT.md`.
    pub report_md: PathBuf,
    /// `OUT/manifest.json`.
    pub manifest: PathBuf,
    /// The section headings, in order.
    pub sections: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn write_report(
    out: &Path,
    plan: &Plan,
    ctx: &RenderContext<'_>,
    notes: &[String],
    sections: &[Section],
    timings: &[ExperimentTiming],
    jobs: &[Job],
    meta: &Path,
    models: &BTreeMap<String, serde_json::Value>,
) -> Result<ReportFiles> {
    let mut md = String::new();
    let _ = writeln!(md, "# Reproduction report: {}\n", plan.name);
    let data = match &ctx.data.source {
        crate::DataSource::Synthetic(s) => format!("a synthetic survey of {} people", s.people),
        crate::DataSource::Csv(p) => format!("the raw survey `{}`", p.display()),
        crate::DataSource::Dataset(p) => format!("the converted survey `{}`", p.display()),
    };
    let _ = writeln!(
        md,
        "Survey: {}. Data: {data} (respondents SHA-256 `{}`), catalog `{}` ({} questions), \
         seed {}. What made this report and how long it took: `{MANIFEST_FILE}`.\n",
        ctx.catalog.survey().name,
        &ctx.data.hash[..16],
        &ctx.catalog.content_hash()[..16],
        ctx.catalog.questions().len(),
        plan.seed
    );
    if ctx.data.is_synthetic() {
        md.push_str(
            "**The people are synthetic.** Every number below shows the machinery at work, not \
             anyone's values nor a model's skill; the paper's figures are left out.\n\n",
        );
    } else if !ctx.paper {
        md.push_str(
            "The catalog is not the paper's full one: the paper's figures are left out.\n\n",
        );
    } else {
        md.push_str("The paper's figures (arXiv 2410.03868) stand beside ours in columns named `paper`.\n\n");
    }
    for note in notes {
        let _ = writeln!(md, "- Scaled: {note}.");
    }
    if !notes.is_empty() {
        md.push('\n');
    }
    md.push_str("## Contents\n\n");
    for s in sections {
        let anchor: String = s
            .heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
                ' ' => Some('-'),
                _ => None,
            })
            .collect();
        let _ = writeln!(md, "- [{}](#{anchor})", s.heading);
    }
    md.push('\n');
    for s in sections {
        let _ = writeln!(md, "## {}\n\n{}", s.heading, s.body.trim_end());
        md.push('\n');
    }
    let report_md = out.join(REPORT_FILE);
    indievalue_files::write_atomic(&report_md, md.as_bytes())?;

    let versions: BTreeMap<String, String> = [
        ("indievalue-experiments", indievalue_files::written_by!()),
        ("indievalue-baselines", indievalue_baselines::WRITTEN_BY),
        ("indievalue-probe", indievalue_probe::WRITTEN_BY),
        ("indievalue-sampling", indievalue_sampling::WRITTEN_BY),
        ("store", FORMAT_VERSION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let manifest = Manifest {
        format: "indievalue-reproduce-manifest/1".into(),
        plan: plan.clone(),
        plan_source: plan.source.clone(),
        data: serde_json::json!({
            "source": format!("{:?}", ctx.data.source),
            "respondents_sha256": ctx.data.hash,
            "dir": ctx.data.dir,
        }),
        catalog: serde_json::json!({ "meta": meta, "hash": ctx.catalog.content_hash() }),
        models: models.clone(),
        versions,
        jobs: jobs
            .iter()
            .map(|j| {
                serde_json::json!({
                    "key": j.key,
                    "reasoner": j.need.reasoner,
                    "tasks": j.need.tasks,
                    "kind": match &j.kind { JobKind::Baselines => "baselines", JobKind::Model(_) => "model" },
                    "done_before_this_run": j.status == JobStatus::Done,
                    "task_count": j.tasks,
                    "experiments": j.experiments,
                })
            })
            .collect(),
        experiments: timings.to_vec(),
        finished_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let manifest_path = out.join(MANIFEST_FILE);
    indievalue_files::write_json_atomic(&manifest_path, &manifest)?;
    Ok(ReportFiles {
        report_md,
        manifest: manifest_path,
        sections: sections.iter().map(|s| s.heading.clone()).collect(),
    })
}
