//! A reasoner's run directory and its stages: the training set, the fine-tuning, the evaluation
//! of each model. Every stage is skipped once done and resumes where a killed run stopped.
//!
//! ```text
//! OUT/reasoner.json            what the run is (recipe, inputs, seed): a rerun must match
//! OUT/train.jsonl              the training set as C.1 conversations (+ train.jsonl.meta.json)
//! OUT/model/                   checkpoints, metrics.jsonl, then the adapter or model directory
//! OUT/trained.json             written once the trained model is saved
//! OUT/eval/MODEL/GRANULARITY-MODE/predictions.jsonl
//! ```

use crate::{Error, ModelEvaluation, ReasonerRecipe, Result};
use indievalue_catalog::Respondents;
use indievalue_catalog::{Catalog, Granularity};
use indievalue_finetune::{
    Formatter, LoraAdapter, StepLog, Trainable, Trainer, load_for_training, read_examples,
};
use indievalue_llm::{LoadOptions, LoadedModel, ModelSource};
use indievalue_metrics::Bootstrap;
use indievalue_metrics::{Prediction, PredictionsFile};
use indievalue_probe::{
    ChatFormat, ProbeMode, ProbeRun, PromptBuilder, TaskDone, meta_path, write_chat_training_set,
    write_task_training_set,
};
use indievalue_sampling::{
    AnswerMatrix, ProbeTask, TrainingRecipe, TrainingRecord, build_training_set, retarget_tasks,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the run is, in the run directory.
pub const RUN_FILE: &str = "reasoner.json";
/// The training set, in the run directory.
pub const TRAINING_SET_FILE: &str = "train.jsonl";
/// The fine-tuning's directory (checkpoints, metrics, the result).
pub const MODEL_DIR: &str = "model";
/// Written once the trained model is saved.
pub const TRAINED_FILE: &str = "trained.json";
/// The evaluations' directory.
pub const EVAL_DIR: &str = "eval";

/// The outcome of the fine-tuning stage (`trained.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    /// Optimizer steps.
    pub steps: u64,
    /// Training examples read.
    pub examples: usize,
    /// Examples whose answer alone was longer than the limit (skipped).
    pub skipped_too_long: usize,
    /// The last step's loss.
    pub last_loss: Option<f64>,
    /// The largest peak memory any step logged, in bytes.
    pub peak_memory_bytes: Option<u64>,
    /// Seconds the stage ran in the process that finished it.
    pub seconds: f64,
    /// Whether the result is a LoRA adapter (else a model directory).
    pub lora: bool,
}

/// The evaluation tasks of a reasoner: the same people, setups, probes and demonstrations,
/// once with polar and once with refined statements.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationTasks {
    /// Polar probes and demonstrations.
    pub polar: Vec<ProbeTask>,
    /// Refined probes and demonstrations.
    pub refined: Vec<ProbeTask>,
}

impl EvaluationTasks {
    /// Both forms of `tasks` (of either granularity; the other is made by
    /// [`retarget_tasks`]).
    pub fn both(
        catalog: &Catalog,
        people: &Respondents,
        answers: &AnswerMatrix,
        tasks: Vec<ProbeTask>,
    ) -> Result<EvaluationTasks> {
        let granularity = tasks
            .first()
            .map_or(Granularity::Polar, |t| t.probe_granularity);
        Ok(match granularity {
            Granularity::Polar => EvaluationTasks {
                refined: retarget_tasks(catalog, people, answers, &tasks, Granularity::Refined)?,
                polar: tasks,
            },
            Granularity::Refined => EvaluationTasks {
                polar: retarget_tasks(catalog, people, answers, &tasks, Granularity::Polar)?,
                refined: tasks,
            },
        })
    }

    /// Tasks of both forms.
    pub fn len(&self) -> usize {
        self.polar.len() + self.refined.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reasoner's run directory.
#[derive(Debug, Clone)]
pub struct ReasonerRun {
    out: PathBuf,
}

impl ReasonerRun {
    /// Opens the run directory `out` for the run `what` (the recipe and whatever else decides
    /// the results: data hash, seed, model): writes it to [`RUN_FILE`] in a new directory;
    /// in one that has it, it must be equal (else [`Error::Mismatch`]: use another directory).
    pub fn open(out: impl Into<PathBuf>, what: &serde_json::Value) -> Result<ReasonerRun> {
        let out = out.into();
        indievalue_files::create_dir_all(&out)?;
        let file = out.join(RUN_FILE);
        if file.exists() {
            let had: serde_json::Value = indievalue_files::read_json(&file)?;
            if &had != what {
                return Err(Error::Mismatch {
                    file,
                    message: "this directory holds a run with other settings; use another \
                              --out or remove it"
                        .into(),
                });
            }
        } else {
            indievalue_files::write_json_atomic(&file, what)?;
        }
        Ok(ReasonerRun { out })
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.out
    }

    /// The training set's file.
    pub fn training_set(&self) -> PathBuf {
        self.out.join(TRAINING_SET_FILE)
    }

    /// Whether the training set is complete (its meta file is written after it).
    pub fn has_training_set(&self) -> bool {
        self.training_set().exists() && meta_path(&self.training_set()).exists()
    }

    /// Writes the training set of `records` as C.1 conversations (`messages`), unless it is
    /// complete already. Returns whether it was written now.
    pub fn write_training_set(
        &self,
        prompts: &PromptBuilder<'_>,
        records: &[TrainingRecord],
        meta: &serde_json::Value,
    ) -> Result<bool> {
        if self.has_training_set() {
            return Ok(false);
        }
        let path = self.training_set();
        write_chat_training_set(&path, prompts, records, ChatFormat::Messages, meta)?;
        Ok(true)
    }

    /// Builds the training set `recipe` describes from the people at `pool` (rows of `people`;
    /// keep the evaluation people out of it) and writes it as C.1 conversations, unless it is
    /// complete already. Returns the number of examples written now (`None`: done earlier).
    #[allow(clippy::too_many_arguments)]
    pub fn build_training_set(
        &self,
        catalog: &Catalog,
        people: &Respondents,
        answers: &AnswerMatrix,
        pool: &[usize],
        recipe: &TrainingRecipe,
        seed: u64,
        meta: &serde_json::Value,
    ) -> Result<Option<usize>> {
        if self.has_training_set() {
            return Ok(None);
        }
        let examples = build_training_set(catalog, people, answers, pool, recipe, seed)?;
        let records: Vec<_> = examples
            .iter()
            .map(|e| e.record(catalog, people, recipe.demographics))
            .collect();
        self.write_training_set(&PromptBuilder::new(catalog), &records, meta)?;
        Ok(Some(records.len()))
    }

    /// Writes every probe of `tasks` as a training conversation (a consistency set, say),
    /// unless the training set is complete already. Returns whether it was written now.
    pub fn write_task_training_set(
        &self,
        prompts: &PromptBuilder<'_>,
        tasks: &[ProbeTask],
        meta: &serde_json::Value,
    ) -> Result<bool> {
        if self.has_training_set() {
            return Ok(false);
        }
        let path = self.training_set();
        write_task_training_set(&path, prompts, tasks, ChatFormat::Messages, meta)?;
        Ok(true)
    }

    /// The fine-tuning's directory.
    pub fn model_dir(&self) -> PathBuf {
        self.out.join(MODEL_DIR)
    }

    /// The fine-tuning's outcome, once it is done.
    pub fn trained(&self) -> Result<Option<Trained>> {
        let file = self.out.join(TRAINED_FILE);
        if !file.exists() {
            return Ok(None);
        }
        Ok(Some(indievalue_files::read_json(&file)?))
    }

    /// Fine-tunes the model at `source` (named `base_name` in the adapter's config) on the training set with `recipe`, resuming from the
    /// newest checkpoint of an interrupted run, saves the adapter (or, fully trained, a model
    /// directory with the base's config and tokenizer) into [`ReasonerRun::model_dir`], then
    /// writes [`TRAINED_FILE`]. Done already: returns the recorded outcome and trains nothing.
    pub fn fine_tune(
        &self,
        base_name: &str,
        source: &ModelSource,
        options: &LoadOptions,
        recipe: &ReasonerRecipe,
        on_step: &mut dyn FnMut(&StepLog, u64),
    ) -> Result<Trained> {
        if let Some(done) = self.trained()? {
            return Ok(done);
        }
        if !self.has_training_set() {
            return Err(Error::Recipe(format!(
                "{} is missing: write the training set first",
                self.training_set().display()
            )));
        }
        let clock = Instant::now();
        let (mut loaded, vars) = load_for_training(source, options, recipe.is_full())?;
        let Some(tokenizer) = loaded.tokenizer.as_ref() else {
            return Err(Error::Recipe(format!(
                "{base_name}: the model has no tokenizer to render conversations with"
            )));
        };
        let formatter = Formatter {
            tokenizer,
            chat_template: &loaded.chat_template,
            eos: loaded.stop_tokens.first().copied(),
        };
        let train = read_examples(&self.training_set(), Some(&formatter), recipe.max_seq_len)?;
        let trainable = match &recipe.lora {
            None => Trainable::Full(vars),
            Some(lora) => Trainable::Lora(LoraAdapter::start(
                &loaded.model,
                None,
                &lora.overrides()?,
                recipe.train.seed,
            )?),
        };
        let files = if recipe.is_full() {
            Some(indievalue_finetune::export::config_and_tokenizer(
                source,
                &loaded,
                options.dtype,
            )?)
        } else {
            None
        };
        let out = self.model_dir();
        let mut trainer = Trainer::new(&mut loaded.model, trainable, recipe.train.clone(), &out)?;
        let mut peak: Option<u64> = None;
        let outcome = trainer.train(&train.examples, &[], true, &mut |log, total| {
            peak = peak.max(log.peak_memory_bytes);
            on_step(log, total);
        })?;
        trainer.trainable().save(&out, base_name, files.as_ref())?;
        let done = Trained {
            steps: outcome.steps,
            examples: train.examples.len(),
            skipped_too_long: train.skipped_too_long,
            last_loss: outcome.last_loss,
            peak_memory_bytes: peak,
            seconds: clock.elapsed().as_secs_f64(),
            lora: !recipe.is_full(),
        };
        indievalue_files::write_json_atomic(&self.out.join(TRAINED_FILE), &done)?;
        Ok(done)
    }

    /// The directory of one evaluation: `eval/MODEL/GRANULARITY-MODE` (`MODE`: `score-label`,
    /// `score-statement`, `generate`, ...).
    pub fn evaluation_dir(
        &self,
        model: &str,
        granularity: Granularity,
        mode: &ProbeMode,
    ) -> PathBuf {
        let mode = match mode {
            ProbeMode::Score(target) => format!("score-{}", target.name()),
            ProbeMode::Generate(_) => "generate".to_owned(),
        };
        self.out
            .join(EVAL_DIR)
            .join(model)
            .join(format!("{}-{mode}", granularity.name()))
    }

    /// Probes `model` (labelled `label`, such as `base` or `trained`) on `tasks` in `mode`,
    /// appending each finished task's predictions and resuming an interrupted evaluation; returns
    /// every prediction of the evaluation. `params` go into the predictions' header.
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate(
        &self,
        model: &LoadedModel,
        catalog: &Catalog,
        label: &str,
        tasks: &[ProbeTask],
        mode: ProbeMode,
        seed: u64,
        params: serde_json::Value,
        on_task: &mut dyn FnMut(&TaskDone),
    ) -> Result<Vec<Prediction>> {
        let granularity = tasks
            .first()
            .map_or(Granularity::Polar, |t| t.probe_granularity);
        let dir = self.evaluation_dir(label, granularity, &mode);
        let run = ProbeRun::new(model, catalog, mode, &dir, seed, params);
        run.run(tasks, None, on_task)?;
        let (_, predictions) = PredictionsFile::read(run.predictions_path(), catalog)?;
        Ok(predictions)
    }

    /// [`ReasonerRun::evaluate`] on the polar and the refined tasks, measured
    /// ([`ModelEvaluation::compute`]).
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate_model(
        &self,
        model: &LoadedModel,
        catalog: &Catalog,
        people: &Respondents,
        label: &str,
        tasks: &EvaluationTasks,
        mode: &ProbeMode,
        seed: u64,
        params: &serde_json::Value,
        on_task: &mut dyn FnMut(&TaskDone),
    ) -> Result<ModelEvaluation> {
        let mut run = |t: &[ProbeTask]| {
            self.evaluate(
                model,
                catalog,
                label,
                t,
                mode.clone(),
                seed,
                params.clone(),
                on_task,
            )
        };
        let polar = run(&tasks.polar)?;
        let refined = run(&tasks.refined)?;
        let bootstrap = Bootstrap {
            seed,
            ..Bootstrap::default()
        };
        ModelEvaluation::compute(catalog, people, label, &polar, &refined, &bootstrap)
    }

    /// The evaluation of `label` in `mode` on `tasks` when an earlier
    /// [`ReasonerRun::evaluate_model`] finished it (every probe of both forms predicted), read
    /// back without a model; `None` while any is missing.
    pub fn finished_evaluation(
        &self,
        catalog: &Catalog,
        people: &Respondents,
        label: &str,
        tasks: &EvaluationTasks,
        mode: &ProbeMode,
        seed: u64,
    ) -> Result<Option<ModelEvaluation>> {
        let mut forms = Vec::with_capacity(2);
        for form in [&tasks.polar, &tasks.refined] {
            let Some(g) = form.first().map(|t| t.probe_granularity) else {
                return Ok(None);
            };
            let file = self
                .evaluation_dir(label, g, mode)
                .join(indievalue_probe::PREDICTIONS_FILE);
            if !file.exists() {
                return Ok(None);
            }
            let (_, predictions) = PredictionsFile::read(&file, catalog)?;
            let probes: usize = form.iter().map(|t| t.probes.len()).sum();
            if predictions.len() != probes {
                return Ok(None);
            }
            forms.push(predictions);
        }
        let bootstrap = Bootstrap {
            seed,
            ..Bootstrap::default()
        };
        let evaluation =
            ModelEvaluation::compute(catalog, people, label, &forms[0], &forms[1], &bootstrap)?;
        Ok(Some(evaluation))
    }
}
