//! A probing run over many tasks: results appended per task as it finishes, and a rerun that
//! resumes where the last one stopped.

use crate::predict::{GenerationSettings, GenerativePredictor, ScoreTarget, ScoringPredictor};
use crate::{Error, Result};
use indievalue_catalog::{Catalog, FileHeader};
use indievalue_files::JsonLines;
use indievalue_llm::LoadedModel;
use indievalue_metrics::{PREDICTIONS_FORMAT, Prediction, PredictionsFile};
use indievalue_sampling::ProbeTask;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// File name of a run's predictions.
pub const PREDICTIONS_FILE: &str = "predictions.jsonl";
/// File name of a generative run's raw answers (one task a line).
pub const GENERATIONS_FILE: &str = "generations.jsonl";

/// How a run predicts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// [`ScoringPredictor`]: a probability per option from one shared prefix, scoring the
    /// given target.
    Score(ScoreTarget),
    /// [`GenerativePredictor`]: the paper's protocol.
    Generate(GenerationSettings),
}

/// One finished task, as reported to the caller.
#[derive(Debug, Clone)]
pub struct TaskDone {
    /// The person.
    pub person: i64,
    /// The setup.
    pub setup: usize,
    /// Tokens run through the model (prompt, continuations, generated).
    pub tokens: usize,
    /// Probes answered validly.
    pub answered: usize,
    /// Probes of the task.
    pub probes: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Tasks found complete from an earlier run and skipped.
    pub resumed: usize,
    /// Tasks run now.
    pub ran: usize,
    /// Partial tasks of an earlier run dropped (and redone).
    pub dropped_partial: usize,
    /// Why the run stopped before its last task (a budget of the predictor), if it did; a
    /// rerun continues from there.
    pub stopped: Option<String>,
}

/// What a predictor gives for one task.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    /// One prediction per probe, in probe order.
    pub predictions: Vec<Prediction>,
    /// Tokens the model ran (prompt, continuations, generated), for progress reports.
    pub tokens: usize,
    /// The task's record for [`TaskPredictor::record_file`] (raw answers, parses,
    /// probabilities read); it must carry `person` and `setup` fields.
    pub record: Option<serde_json::Value>,
}

/// Anything that predicts probe tasks: the local scoring and generative predictors, a model
/// served elsewhere, a future reasoner. [`ProbeRun`] gives every predictor the same resuming,
/// appending and recording.
pub trait TaskPredictor {
    /// Predicts tasks, one result per task in order. A predictor that can run several tasks at
    /// once (a remote one, bounded by its concurrency) overrides this; the default runs them one
    /// by one. A [`Error::Budget`] stops the run cleanly after the tasks before it.
    fn predict_many(&self, tasks: &[&ProbeTask]) -> Vec<Result<TaskOutput>>;

    /// Tasks handed to [`TaskPredictor::predict_many`] at once (default 1).
    fn tasks_at_once(&self) -> usize {
        1
    }

    /// The file (inside the run's directory) that gets each task's record, one line a task;
    /// `None` for predictors that keep no record.
    fn record_file(&self) -> Option<&str> {
        None
    }
}

/// The local predictors of a [`ProbeMode`] on one loaded model.
pub struct LocalPredictor<'a> {
    scorer: ScoringPredictor<'a>,
    generator: Option<GenerativePredictor<'a>>,
}

impl<'a> LocalPredictor<'a> {
    /// The predictor `mode` names on `model`.
    pub fn new(model: &'a LoadedModel, catalog: &'a Catalog, mode: &ProbeMode) -> Self {
        let mut scorer = ScoringPredictor::new(model, catalog);
        if let ProbeMode::Score(target) = mode {
            scorer.target = *target;
        }
        let generator = match mode {
            ProbeMode::Generate(s) => Some(GenerativePredictor::new(model, catalog, s.clone())),
            ProbeMode::Score(_) => None,
        };
        LocalPredictor { scorer, generator }
    }

    fn predict(&self, task: &ProbeTask) -> Result<TaskOutput> {
        match &self.generator {
            None => {
                let scored = self.scorer.score(task)?;
                Ok(TaskOutput {
                    predictions: scored.predictions,
                    tokens: scored.prefix_tokens + scored.continuation_tokens,
                    record: None,
                })
            }
            Some(g) => {
                let generated = g.probe(task)?;
                let tokens = generated.prompt_tokens
                    + generated.attempts.iter().map(|a| a.tokens).sum::<usize>();
                let record = serde_json::to_value(&generated)
                    .map_err(|e| Error::Task(format!("recording a generation: {e}")))?;
                Ok(TaskOutput {
                    predictions: generated.predictions,
                    tokens,
                    record: Some(record),
                })
            }
        }
    }
}

impl TaskPredictor for LocalPredictor<'_> {
    fn predict_many(&self, tasks: &[&ProbeTask]) -> Vec<Result<TaskOutput>> {
        tasks.iter().map(|t| self.predict(t)).collect()
    }

    fn record_file(&self) -> Option<&str> {
        self.generator.as_ref().map(|_| GENERATIONS_FILE)
    }
}

/// A probing run writing into one directory: `predictions.jsonl` (the shared predictions
/// format; its header records the model, mode, inputs, seed and versions) and the predictor's
/// record file, if it keeps one (generative runs: `generations.jsonl`, every attempt's raw
/// answer and parse, one task a line).
pub struct ProbeRun<'a> {
    predictor: Box<dyn TaskPredictor + 'a>,
    catalog: &'a Catalog,
    out: PathBuf,
    header: FileHeader,
}

impl<'a> ProbeRun<'a> {
    /// A run of `mode` on a local model writing into `out`; `params` (model, inputs, settings:
    /// whatever determines the results) go into the header with the mode and this crate's
    /// version.
    pub fn new(
        model: &'a LoadedModel,
        catalog: &'a Catalog,
        mode: ProbeMode,
        out: impl Into<PathBuf>,
        seed: u64,
        params: serde_json::Value,
    ) -> ProbeRun<'a> {
        let predictor = LocalPredictor::new(model, catalog, &mode);
        let params = serde_json::json!({ "mode": mode, "run": params });
        ProbeRun::with_predictor(Box::new(predictor), catalog, out, seed, params)
    }

    /// A run of any predictor writing into `out`; `params` (whatever determines the results:
    /// the model, its settings, the inputs) go into the header with this crate's version.
    pub fn with_predictor(
        predictor: Box<dyn TaskPredictor + 'a>,
        catalog: &'a Catalog,
        out: impl Into<PathBuf>,
        seed: u64,
        params: serde_json::Value,
    ) -> ProbeRun<'a> {
        let mut params = params;
        if let Some(map) = params.as_object_mut() {
            map.insert(
                "probe_crate".into(),
                concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")).into(),
            );
        }
        let header = FileHeader::new(
            PREDICTIONS_FORMAT,
            catalog,
            seed,
            indievalue_files::written_by!(),
            params,
        );
        ProbeRun {
            predictor,
            catalog,
            out: out.into(),
            header,
        }
    }

    /// The predictions file.
    pub fn predictions_path(&self) -> PathBuf {
        self.out.join(PREDICTIONS_FILE)
    }

    /// The predictor's record file (`generations.jsonl` for generative runs), if it keeps one.
    pub fn record_path(&self) -> Option<PathBuf> {
        self.predictor.record_file().map(|f| self.out.join(f))
    }

    /// Opens the output for appending: creates it, or recovers an earlier run's file (cutting
    /// a torn last line, dropping tasks whose probes are not all present). Returns the tasks
    /// already complete and how many partial ones were dropped.
    fn prepare(&self, tasks: &[ProbeTask]) -> Result<(HashSet<(i64, usize)>, usize)> {
        indievalue_files::create_dir_all(&self.out)?;
        let path = self.predictions_path();
        let records = self.record_path().map(JsonLines::new);
        if !path.exists() {
            PredictionsFile::start(&path, &self.header)?;
            if let Some(records) = &records {
                records.create_empty()?;
            }
            return Ok((HashSet::new(), 0));
        }
        PredictionsFile::recover(&path)?;
        let (header, predictions) = PredictionsFile::read(&path, self.catalog)?;
        if header.params != self.header.params || header.seed != self.header.seed {
            return Err(Error::Resume(format!(
                "{} was written by a run with other settings; use another --out or remove it",
                path.display()
            )));
        }
        let expected: BTreeMap<(i64, usize), usize> = tasks
            .iter()
            .map(|t| ((t.person, t.setup), t.probes.len()))
            .collect();
        let mut counts: BTreeMap<(i64, usize), usize> = BTreeMap::new();
        for p in &predictions {
            *counts.entry((p.person, p.setup)).or_default() += 1;
        }
        let complete: HashSet<(i64, usize)> = counts
            .iter()
            .filter(|(k, n)| expected.get(*k) == Some(*n))
            .map(|(k, _)| *k)
            .collect();
        let dropped = counts.len() - complete.len();
        if dropped > 0 {
            let keep: Vec<Prediction> = predictions
                .into_iter()
                .filter(|p| complete.contains(&(p.person, p.setup)))
                .collect();
            PredictionsFile::write(&path, &header, &keep)?;
        }
        if let Some(records) = &records {
            // Records of complete tasks are kept; a torn or partial task's are dropped.
            let kept: Vec<serde_json::Value> = if records.exists() {
                records.recover()?;
                records
                    .read_records::<serde_json::Value>()?
                    .into_iter()
                    .filter(|r| {
                        let person = r.get("person").and_then(serde_json::Value::as_i64);
                        let setup = r.get("setup").and_then(serde_json::Value::as_u64);
                        matches!((person, setup), (Some(p), Some(s)) if complete.contains(&(p, s as usize)))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            records.write_records(&kept)?;
        }
        Ok((complete, dropped))
    }

    /// Runs every task not yet complete among the first `limit` tasks (all with `None`),
    /// appending each task's results when it finishes; `on_task` hears of every finished task.
    /// The limit counts the tasks of the whole run, finished earlier or now, so a run killed and
    /// rerun with the same limit ends where an uninterrupted one does.
    pub fn run(
        &self,
        tasks: &[ProbeTask],
        limit: Option<usize>,
        on_task: &mut dyn FnMut(&TaskDone),
    ) -> Result<RunOutcome> {
        let (complete, dropped) = self.prepare(tasks)?;
        let mut outcome = RunOutcome {
            dropped_partial: dropped,
            ..RunOutcome::default()
        };
        let tasks = &tasks[..limit.map_or(tasks.len(), |l| l.min(tasks.len()))];
        let records = self.record_path().map(JsonLines::new);
        let todo: Vec<&ProbeTask> = tasks
            .iter()
            .filter(|t| !complete.contains(&(t.person, t.setup)))
            .collect();
        outcome.resumed = tasks.len() - todo.len();
        for chunk in todo.chunks(self.predictor.tasks_at_once().max(1)) {
            // Results are appended in task order; a budget stop keeps the tasks before it.
            for (task, result) in chunk.iter().zip(self.predictor.predict_many(chunk)) {
                let output = match result {
                    Ok(output) => output,
                    Err(Error::Budget(why)) => {
                        outcome.stopped = Some(why);
                        return Ok(outcome);
                    }
                    Err(e) => return Err(e),
                };
                if output.predictions.len() != task.probes.len() {
                    return Err(Error::Task(format!(
                        "person {} setup {}: {} predictions for {} probes",
                        task.person,
                        task.setup,
                        output.predictions.len(),
                        task.probes.len()
                    )));
                }
                if let (Some(records), Some(record)) = (&records, &output.record) {
                    records.append(std::slice::from_ref(record))?;
                }
                PredictionsFile::append(self.predictions_path(), &output.predictions)?;
                outcome.ran += 1;
                on_task(&TaskDone {
                    person: task.person,
                    setup: task.setup,
                    tokens: output.tokens,
                    answered: output
                        .predictions
                        .iter()
                        .filter(|p| p.predicted.is_some())
                        .count(),
                    probes: output.predictions.len(),
                });
            }
        }
        Ok(outcome)
    }
}
