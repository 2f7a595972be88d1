//! All the baselines of Table 4 in one call, and the Table 20 sweep as a table and plot lines.

use crate::learned::{LearnedReasoner, LearnedReasoners, LearnedSettings, Selection};
use crate::resemble::{ResembleIndex, SweepPoint, resemble_sweep};
use crate::{Error, GlobalMajority, Result, WRITTEN_BY, random_accuracy};
use indievalue_catalog::{Catalog, FileHeader, Granularity, Respondents};
use indievalue_metrics::{PREDICTIONS_FORMAT, Prediction, PredictionsFile, Table};
use indievalue_sampling::{AnswerMatrix, ProbeSetup, ProbeTask};
use std::path::{Path, PathBuf};

/// One baseline's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRun {
    /// File stem and summary key: `global`, `top1`, `top{k}`.
    pub name: String,
    /// Table label: `Global`, `Resemble (top 1)`, `Resemble (top cluster, k={k})`.
    pub label: String,
    /// The predictions, task by task.
    pub predictions: Vec<Prediction>,
}

/// What [`run_baselines`] computed.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineResults {
    /// Probe form of the tasks.
    pub probe_granularity: Granularity,
    /// Demonstration form of the tasks (the resemble index's).
    pub demo_granularity: Granularity,
    /// Exact random accuracy per setup.
    pub random: Vec<f64>,
    /// Global, resemble top-1 and resemble top-`report_k`, in that order; then, when the
    /// learned reasoners ran, `weighted`, `logistic`, `latent` and `blend`.
    pub runs: Vec<BaselineRun>,
    /// The top-k sweep, k = 1..=max_k.
    pub sweep: Vec<SweepPoint>,
    /// The k reported as the top cluster.
    pub report_k: usize,
    /// What cross-validation on the pool measured and chose, when the learned reasoners ran.
    pub selection: Option<Selection>,
}

impl BaselineResults {
    /// The name of the recommended row (one of `runs`), when the learned reasoners ran.
    pub fn recommended(&self) -> Option<String> {
        self.selection
            .as_ref()
            .map(|s| s.recommended.name(self.report_k))
    }

    /// A run's table label, `", recommended"` appended to the recommended row's.
    pub fn label_of(&self, run: &BaselineRun) -> String {
        if self.recommended().as_deref() == Some(run.name.as_str()) {
            format!("{}, recommended", run.label)
        } else {
            run.label.clone()
        }
    }
}

/// What [`run_baseline_suite`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    /// Largest k of the top-k sweep.
    pub max_k: usize,
    /// The k reported as the top cluster (and the top-k candidate of the learned selection).
    pub report_k: usize,
    /// The learned reasoners' settings, or `None` for the paper's baselines only.
    pub learned: Option<LearnedSettings>,
}

impl SuiteOptions {
    /// The paper's baselines (k up to 35, top-24) and the learned reasoners with `seed`.
    pub fn with_learned(seed: u64) -> SuiteOptions {
        SuiteOptions {
            max_k: 35,
            report_k: 24,
            learned: Some(LearnedSettings::new(seed)),
        }
    }
}

impl BaselineResults {
    /// Writes each run's predictions to `dir/NAME.jsonl` (the shared predictions format; the
    /// header's `params` are `{"reasoner": NAME}` followed by the entries of `params`). Returns
    /// the files written.
    pub fn write_predictions(
        &self,
        dir: &Path,
        catalog: &Catalog,
        seed: u64,
        params: &serde_json::Value,
    ) -> Result<Vec<PathBuf>> {
        indievalue_files::create_dir_all(dir)?;
        let mut files = Vec::with_capacity(self.runs.len());
        for run in &self.runs {
            let mut map = serde_json::Map::new();
            map.insert("reasoner".into(), run.name.clone().into());
            if let Some(extra) = params.as_object() {
                map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let header = FileHeader::new(PREDICTIONS_FORMAT, catalog, seed, WRITTEN_BY, map.into());
            let file = dir.join(format!("{}.jsonl", run.name));
            PredictionsFile::write(&file, &header, &run.predictions)?;
            files.push(file);
        }
        Ok(files)
    }
}

/// Runs every baseline of Table 4 on `tasks`: random (exact), global majority over `pool`, and
/// the resemble top-k sweep up to `max_k` (keeping the predictions of top-1 and top-`report_k`).
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents};
/// # use indievalue_sampling::*;
/// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let q = catalog.questions().len();
/// let people = Respondents::from_raw(&catalog, (1..=4).collect(), vec![vec![1, 1, 2, 1]; q],
///     vec![vec![1; 4]; catalog.demographics().len()]).unwrap();
/// let answers = AnswerMatrix::new(&people);
/// let setups = ProbeSetup::of_survey(&catalog);
/// let spec = DemoSpec { mode: DemoMode::Fixed(5), granularity: Granularity::Polar, demographics: false };
/// let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity: Granularity::Polar, seed: 1 };
/// let tasks = build_probe_tasks(&catalog, &people, &answers, &[0], &task_spec);
/// let r = indievalue_baselines::run_baselines(&catalog, &people, &answers, &[1, 2, 3], &tasks, 3, 2)
///     .unwrap();
/// assert_eq!(r.runs.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["global", "top1", "top2"]);
/// assert_eq!(r.sweep.len(), 3);
/// ```
pub fn run_baselines(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    pool: &[usize],
    tasks: &[ProbeTask],
    max_k: usize,
    report_k: usize,
) -> Result<BaselineResults> {
    let options = SuiteOptions {
        max_k,
        report_k,
        learned: None,
    };
    run_baseline_suite(catalog, people, answers, pool, tasks, &options)
}

/// [`run_baselines`], then, when `options.learned` is set, the learned reasoners
/// ([`LearnedReasoners`]: similarity-weighted neighbours, the per-question logistic model, the
/// latent class model and their blend) fitted and cross-validated on `pool` alone, as four more
/// runs, and the
/// recommended one named ([`BaselineResults::recommended`]; the learned top-k candidate is
/// top-`report_k`).
pub fn run_baseline_suite(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    pool: &[usize],
    tasks: &[ProbeTask],
    options: &SuiteOptions,
) -> Result<BaselineResults> {
    let (max_k, report_k) = (options.max_k, options.report_k);
    if report_k == 0 || max_k == 0 {
        return Err(Error::ZeroK);
    }
    if report_k > max_k {
        return Err(Error::ReportK { report_k, max_k });
    }
    let first = tasks.first().ok_or(Error::NoTasks)?;
    let (probe_g, demo_g) = (first.probe_granularity, first.demo_granularity);
    let setups = ProbeSetup::of_survey(catalog);
    let random = random_accuracy(catalog, &setups, probe_g);
    let global = GlobalMajority::fit(catalog, answers, pool);
    let global_predictions = global.predictions(catalog, tasks)?;
    let index = ResembleIndex::build(catalog, people, answers, pool, demo_g)?;
    let sweep = resemble_sweep(
        catalog,
        answers,
        &index,
        &global,
        tasks,
        max_k,
        &[1, report_k],
    )?;
    let take = |k: usize| sweep.predictions.get(&k).cloned().unwrap_or_default();
    let top1 = take(1);
    let top_k = take(report_k);
    let mut runs = vec![
        BaselineRun {
            name: "global".into(),
            label: "Global".into(),
            predictions: global_predictions,
        },
        BaselineRun {
            name: "top1".into(),
            label: "Resemble (top 1)".into(),
            predictions: top1,
        },
        BaselineRun {
            name: format!("top{report_k}"),
            label: format!("Resemble (top cluster, k={report_k})"),
            predictions: top_k,
        },
    ];
    let mut selection = None;
    if let Some(settings) = &options.learned {
        let settings = LearnedSettings {
            top_k: report_k,
            ..settings.clone()
        };
        let learned = LearnedReasoners::fit(catalog, people, answers, pool, tasks, &settings)?;
        let predicted = learned.predict(catalog, tasks)?;
        for (reasoner, predictions) in [
            (LearnedReasoner::Weighted, predicted.weighted),
            (LearnedReasoner::Logistic, predicted.logistic),
            (LearnedReasoner::Latent, predicted.latent),
            (LearnedReasoner::Blend, predicted.blend),
        ] {
            runs.push(BaselineRun {
                name: reasoner.name(report_k),
                label: reasoner.label(report_k),
                predictions,
            });
        }
        selection = Some(learned.selection().clone());
    }
    Ok(BaselineResults {
        probe_granularity: probe_g,
        demo_granularity: demo_g,
        random,
        runs,
        sweep: sweep.points,
        report_k,
        selection,
    })
}

/// Table 20: accuracy per setup and on average for every k of a sweep.
pub fn top_k_table(points: &[SweepPoint], setups: usize) -> Table {
    let mut table = Table::new(
        std::iter::once("k".to_owned())
            .chain((1..=setups).map(|s| format!("setup {s}")))
            .chain(["avg".to_owned()]),
    );
    let fmt = |v: f64| format!("{v:.2}");
    for p in points {
        let mut row = vec![p.k.to_string()];
        row.extend(p.per_setup.values().map(|&v| fmt(v)));
        row.push(fmt(p.average));
        table.push(row);
    }
    table
}

/// The sweep as plot lines: one per setup (`setup 1`, ...) and the average.
pub fn top_k_lines(points: &[SweepPoint], setups: usize) -> Vec<(String, Vec<f64>)> {
    let mut lines: Vec<(String, Vec<f64>)> = (0..setups)
        .map(|s| {
            (
                format!("setup {}", s + 1),
                points
                    .iter()
                    .map(|p| p.per_setup.get(&s).copied().unwrap_or(f64::NAN))
                    .collect(),
            )
        })
        .collect();
    lines.push(("average".into(), points.iter().map(|p| p.average).collect()));
    lines
}

/// Table 20's sweep as a line plot (`STEM.png`, `STEM.svg`): one line per setup and the average.
pub fn plot_top_k(
    stem: impl AsRef<Path>,
    points: &[SweepPoint],
    setups: usize,
) -> Result<Vec<PathBuf>> {
    let ks: Vec<usize> = points.iter().map(|p| p.k).collect();
    let lines = top_k_lines(points, setups);
    Ok(indievalue_metrics::plots::top_k_sweep(
        stem,
        "Resemble top-k sweep",
        &ks,
        &lines,
    )?)
}
