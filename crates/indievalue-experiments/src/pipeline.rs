//! One survey through the workspace's stages in one directory, as the quickstart shows them:
//! convert a CSV (`data/`), sample the evaluation set and the probe tasks (`tasks/`), run the
//! statistical baselines (`results/`). Any described survey or the WVS; every stage writes
//! the files the examples would.

use crate::Result;
use indievalue_baselines::{BaselineResults, SuiteOptions, run_baseline_suite};
use indievalue_catalog::{Catalog, FileHeader, Granularity, Respondents};
use indievalue_convert::{Conversion, ConvertOptions, convert_file, write_dataset};
use indievalue_metrics::{Bootstrap, Evaluation, SetupColumn, SetupRow, Table, setup_table};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EVAL_IDS_FILE, EvalCriteria, EvaluationSet, PROBE_TASKS_FILE,
    ProbeSetup, ProbeTask, TASK_FORMAT, TaskFile, TaskSpec, build_probe_tasks,
    select_evaluation_set, survey_demo_mode, write_id_file,
};
use std::path::{Path, PathBuf};

/// The directories of a survey run under its root.
pub const DATA_DIR: &str = "data";
/// Task directory (`eval_ids.txt`, `probe_tasks.jsonl`).
pub const TASKS_DIR: &str = "tasks";
/// Baseline predictions and tables.
pub const RESULTS_DIR: &str = "results";

/// A survey's run directory: `root/data`, `root/tasks`, `root/results`.
///
/// ```no_run
/// # use indievalue_experiments::SurveyRun;
/// # use indievalue_catalog::Catalog;
/// let catalog = Catalog::load("surveys/gss-spending")?;
/// let run = SurveyRun::new(&catalog, "out/gss-spending", 0);
/// let conversion = run.convert(".cache/surveys/gss-spending.csv".as_ref())?;
/// let answers = indievalue_sampling::AnswerMatrix::new(&conversion.respondents);
/// let sample = run.sample(&conversion.respondents, &answers, None, None)?;
/// let (results, table) = run.baselines(&conversion.respondents, &answers, &sample)?;
/// print!("{}", table.to_markdown());
/// # Ok::<(), indievalue_experiments::Error>(())
/// ```
pub struct SurveyRun<'a> {
    catalog: &'a Catalog,
    root: PathBuf,
    seed: u64,
}

/// What [`SurveyRun::sample`] drew.
pub struct Sample {
    /// The evaluation set.
    pub eval: EvaluationSet,
    /// The probe tasks of every setup (polar probes and demonstrations).
    pub tasks: Vec<ProbeTask>,
    /// The criteria the set was drawn by.
    pub criteria: EvalCriteria,
    /// The demonstrations each task asked for.
    pub demos: DemoMode,
}

impl<'a> SurveyRun<'a> {
    /// A run of `catalog`'s survey under `root`, seeded.
    pub fn new(catalog: &'a Catalog, root: impl Into<PathBuf>, seed: u64) -> SurveyRun<'a> {
        SurveyRun {
            catalog,
            root: root.into(),
            seed,
        }
    }

    /// A directory of the run (`DATA_DIR`, `TASKS_DIR`, `RESULTS_DIR`).
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Converts the survey's CSV into `data/` (Parquet and `report.json`).
    pub fn convert(&self, csv: &Path) -> Result<Conversion> {
        let conversion = convert_file(self.catalog, csv, &ConvertOptions::default())?;
        write_dataset(self.catalog, &conversion, self.dir(DATA_DIR))?;
        Ok(conversion)
    }

    /// Draws the evaluation set (`eval_people`, default the survey's) and the probe tasks
    /// (`demos`, default the survey's) into `tasks/`.
    pub fn sample(
        &self,
        people: &Respondents,
        answers: &AnswerMatrix,
        eval_people: Option<usize>,
        demos: Option<DemoMode>,
    ) -> Result<Sample> {
        let catalog = self.catalog;
        let setups = ProbeSetup::of_survey(catalog);
        let demos = demos.unwrap_or_else(|| survey_demo_mode(catalog));
        let fixed = match demos {
            DemoMode::Fixed(n) => Some(n),
            _ => None,
        };
        let mut criteria = EvalCriteria::of_survey(catalog, fixed);
        criteria.people = eval_people.unwrap_or(criteria.people);
        let eval = select_evaluation_set(catalog, people, answers, &setups, &criteria, self.seed)?;
        let spec = DemoSpec {
            mode: demos,
            granularity: Granularity::Polar,
            demographics: false,
        };
        let task_spec = TaskSpec {
            setups: &setups,
            demos: spec,
            probe_granularity: Granularity::Polar,
            seed: self.seed,
        };
        let tasks = build_probe_tasks(catalog, people, answers, &eval.rows, &task_spec);
        let dir = self.dir(TASKS_DIR);
        indievalue_files::create_dir_all(&dir)?;
        write_id_file(dir.join(EVAL_IDS_FILE), &eval.ids)?;
        let params = serde_json::json!({ "criteria": criteria, "demo_spec": spec });
        let header = FileHeader::new(
            TASK_FORMAT,
            catalog,
            self.seed,
            indievalue_sampling::WRITTEN_BY,
            params,
        );
        TaskFile::write(dir.join(PROBE_TASKS_FILE), &header, &tasks)?;
        Ok(Sample {
            eval,
            tasks,
            criteria,
            demos,
        })
    }

    /// Runs the statistical baselines on the sample's tasks (top-k up to 35, reporting 24) and
    /// the learned reasoners (fitted on the training pool, the recommended one named), writes their predictions and the Table 4 style table (accuracy per setup and
    /// sigma-INEQUITY over the survey's dimensions) into `results/`.
    pub fn baselines(
        &self,
        people: &Respondents,
        answers: &AnswerMatrix,
        sample: &Sample,
    ) -> Result<(BaselineResults, Table)> {
        let catalog = self.catalog;
        let pool = sample.eval.training_rows(people.len());
        let options = SuiteOptions::with_learned(self.seed);
        let results = run_baseline_suite(catalog, people, answers, &pool, &sample.tasks, &options)?;
        let dir = self.dir(RESULTS_DIR);
        results.write_predictions(&dir, catalog, self.seed, &serde_json::json!({}))?;
        let mut rows = vec![SetupRow::exact("Random (exact)", results.random.clone())];
        for run in &results.runs {
            let e =
                Evaluation::compute(catalog, people, &run.predictions, &Bootstrap::default(), 1)?;
            rows.push(e.row(results.label_of(run)));
        }
        let setups = ProbeSetup::of_survey(catalog).len();
        let table = setup_table(
            "Baseline",
            setups,
            &rows,
            &[SetupColumn::Interval, SetupColumn::Inequity],
        );
        table.write(dir.join("table4"))?;
        Ok((results, table))
    }
}
