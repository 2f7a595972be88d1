//! A probing run over many tasks: results appended per task as it finishes, and a rerun that
//! resumes where the last one stopped.

use crate::predict::{
    GeneratedTask, GenerationSettings, GenerativePredictor, ScoreTarget, ScoringPredictor,
};
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
}

/// A probing run writing into one directory: `predictions.jsonl` (the shared predictions
/// format; its header records the model, mode, inputs, seed and versions) and, for generative
/// runs, `generations.jsonl` (every attempt's raw answer and parse, one task a line).
pub struct ProbeRun<'a> {
    model: &'a LoadedModel,
    catalog: &'a Catalog,
    mode: ProbeMode,
    out: PathBuf,
    header: FileHeader,
}

impl<'a> ProbeRun<'a> {
    /// A run of `mode` writing into `out`; `params` (model, inputs, settings: whatever
    /// determines the results) go into the header with the mode and this crate's version.
    pub fn new(
        model: &'a LoadedModel,
        catalog: &'a Catalog,
        mode: ProbeMode,
        out: impl Into<PathBuf>,
        seed: u64,
        params: serde_json::Value,
    ) -> ProbeRun<'a> {
        let params = serde_json::json!({
            "mode": mode,
            "run": params,
            "probe_crate": concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")),
        });
        let header = FileHeader::new(
            PREDICTIONS_FORMAT,
            catalog,
            seed,
            indievalue_files::written_by!(),
            params,
        );
        ProbeRun {
            model,
            catalog,
            mode,
            out: out.into(),
            header,
        }
    }

    /// The predictions file.
    pub fn predictions_path(&self) -> PathBuf {
        self.out.join(PREDICTIONS_FILE)
    }

    /// The generations file (generative runs).
    pub fn generations_path(&self) -> PathBuf {
        self.out.join(GENERATIONS_FILE)
    }

    /// Opens the output for appending: creates it, or recovers an earlier run's file (cutting
    /// a torn last line, dropping tasks whose probes are not all present). Returns the tasks
    /// already complete and how many partial ones were dropped.
    fn prepare(&self, tasks: &[ProbeTask]) -> Result<(HashSet<(i64, usize)>, usize)> {
        indievalue_files::create_dir_all(&self.out)?;
        let path = self.predictions_path();
        let generations = JsonLines::new(self.generations_path());
        let generative = matches!(self.mode, ProbeMode::Generate(_));
        if !path.exists() {
            PredictionsFile::start(&path, &self.header)?;
            if generative {
                generations.create_empty()?;
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
        if generative {
            // Generations of complete tasks are kept; a torn or partial task's are dropped.
            let kept: Vec<GeneratedTask> = if generations.exists() {
                generations.recover()?;
                generations
                    .read_records::<GeneratedTask>()?
                    .into_iter()
                    .filter(|t| complete.contains(&(t.person, t.setup)))
                    .collect()
            } else {
                Vec::new()
            };
            generations.write_records(&kept)?;
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
        let mut scorer = ScoringPredictor::new(self.model, self.catalog);
        if let ProbeMode::Score(target) = self.mode {
            scorer.target = target;
        }
        let generator = match &self.mode {
            ProbeMode::Generate(s) => Some(GenerativePredictor::new(
                self.model,
                self.catalog,
                s.clone(),
            )),
            ProbeMode::Score(_) => None,
        };
        let tasks = &tasks[..limit.map_or(tasks.len(), |l| l.min(tasks.len()))];
        let generations = JsonLines::new(self.generations_path());
        for task in tasks {
            if complete.contains(&(task.person, task.setup)) {
                outcome.resumed += 1;
                continue;
            }
            let (predictions, tokens) = match &generator {
                None => {
                    let scored = scorer.score(task)?;
                    (
                        scored.predictions,
                        scored.prefix_tokens + scored.continuation_tokens,
                    )
                }
                Some(g) => {
                    let generated = g.probe(task)?;
                    generations.append(std::slice::from_ref(&generated))?;
                    let tokens = generated.prompt_tokens
                        + generated.attempts.iter().map(|a| a.tokens).sum::<usize>();
                    (generated.predictions, tokens)
                }
            };
            PredictionsFile::append(self.predictions_path(), &predictions)?;
            outcome.ran += 1;
            on_task(&TaskDone {
                person: task.person,
                setup: task.setup,
                tokens,
                answered: predictions.iter().filter(|p| p.predicted.is_some()).count(),
                probes: predictions.len(),
            });
        }
        Ok(outcome)
    }
}
