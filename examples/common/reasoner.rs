//! The terminal side of the reasoner examples (`train_reasoner`, `reasoner_small`): progress
//! bars around `indievalue::reasoner`'s stages, loading the base and the trained model, and the
//! tables and plots printed and written at the end.

#![allow(dead_code)] // each example uses part of this module

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use indievalue::baselines::{SuiteOptions, run_baseline_suite};
use indievalue::catalog::{Catalog, Respondents};
use indievalue::finetune::load_with_adapter;
use indievalue::llm::{LoadOptions, LoadedModel, ModelSource, load_model};
use indievalue::metrics::{AccuracyReport, Bootstrap, Prediction, SetupRow, Table, setup_table};
use indievalue::probe::ProbeMode;
use indievalue::reasoner::{
    EvaluationTasks, ModelEvaluation, ReasonerRecipe, ReasonerRun, Trained, group_change_plots,
    table4, table19,
};
use indievalue::sampling::AnswerMatrix;
use std::path::{Path, PathBuf};

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The fine-tuning stage with a progress bar (skipped when done).
pub fn fine_tune(
    run: &ReasonerRun,
    name: &str,
    source: &ModelSource,
    options: &LoadOptions,
    recipe: &ReasonerRecipe,
) -> anyhow::Result<Trained> {
    if let Some(done) = run.trained()? {
        eprintln!("fine-tuning done earlier: {} steps ({})", done.steps, run.model_dir().display());
        return Ok(done);
    }
    let progress = bar(0, "{bar:30} step {pos}/{len} {elapsed_precise} eta {eta} {msg}");
    let trained = run
        .fine_tune(name, source, options, recipe, &mut |log, total| {
            progress.set_length(total);
            progress.set_position(log.step);
            progress.set_message(format!(
                "loss {:.4} lr {:.2e} {:.0} tok/s",
                log.loss, log.lr, log.tokens_per_s
            ));
        })
        .with_context(|| format!("fine-tuning {name}"))?;
    progress.finish_and_clear();
    eprintln!(
        "fine-tuned {} steps on {} examples in {:.0} s, last loss {:.4} -> {}",
        trained.steps,
        trained.examples,
        trained.seconds,
        trained.last_loss.unwrap_or(f64::NAN),
        run.model_dir().display()
    );
    Ok(trained)
}

/// The SmolLM2-135M-Instruct GGUF file the recipe examples train, or an error saying how to
/// fetch it.
pub fn fetched_smollm2() -> anyhow::Result<PathBuf> {
    let gguf = indievalue_testdata::smollm2_gguf();
    anyhow::ensure!(gguf.exists(), "{} is missing: run scripts/fetch_models.sh", gguf.display());
    Ok(gguf)
}

/// `recipe` at this machine's scale: the learning rate, epochs and seed given, a checkpoint
/// every 5 steps, no gradient checkpointing, sequences up to 2,048 tokens.
pub fn cpu_scale(mut recipe: ReasonerRecipe, lr: f64, epochs: f64, seed: u64) -> ReasonerRecipe {
    recipe.train.optimizer.lr = lr;
    recipe.train.epochs = epochs;
    recipe.train.seed = seed;
    recipe.train.save_every = Some(5);
    recipe.train.gradient_checkpointing = false;
    recipe.max_seq_len = 2048;
    recipe
}

/// Where the base and the trained model come from.
pub struct Models<'a> {
    /// The base model.
    pub source: &'a ModelSource,
    /// How models load.
    pub options: &'a LoadOptions,
    /// The run (the trained model is in its model directory).
    pub run: &'a ReasonerRun,
    /// The fine-tuning's outcome.
    pub trained: &'a Trained,
}

impl Models<'_> {
    /// Loads `base` or `trained` for inference (a LoRA adapter merged into the base).
    pub fn load(&self, which: &str) -> anyhow::Result<LoadedModel> {
        let dir = self.run.model_dir();
        Ok(match (which, self.trained.lora) {
            ("base", _) => load_model(self.source, self.options)?,
            (_, true) => load_with_adapter(self.source, self.options, &dir)?,
            (_, false) => load_model(&ModelSource::Directory(dir), self.options)?,
        })
    }
}

/// One probing mode's evaluation of the base and the trained model.
pub struct ModeResults {
    /// The mode's name (`label scoring`, `generation`).
    pub mode: String,
    /// The base model.
    pub base: ModelEvaluation,
    /// The trained model.
    pub trained: ModelEvaluation,
}

/// Evaluates the base and the trained model in every mode on both forms of `tasks`, each model
/// loaded once; finished evaluations are read back, not rerun.
pub fn evaluate_both(
    catalog: &Catalog,
    people: &Respondents,
    tasks: &EvaluationTasks,
    models: &Models<'_>,
    modes: &[(&str, ProbeMode)],
    seed: u64,
) -> anyhow::Result<Vec<ModeResults>> {
    let per_model = (tasks.len() * modes.len()) as u64;
    let progress =
        bar(2 * per_model, "{bar:30} {pos}/{len} tasks {elapsed_precise} eta {eta} {msg}");
    let mut evaluations: Vec<Vec<ModelEvaluation>> = vec![Vec::new(); modes.len()];
    for which in ["base", "trained"] {
        let mut model: Option<LoadedModel> = None;
        for (i, (name, mode)) in modes.iter().enumerate() {
            progress.set_message(format!("{which}, {name}"));
            let run = models.run;
            if let Some(done) =
                run.finished_evaluation(catalog, people, which, tasks, mode, seed)?
            {
                progress.inc(tasks.len() as u64);
                evaluations[i].push(done);
                continue;
            }
            if model.is_none() {
                let loaded =
                    models.load(which).with_context(|| format!("loading the {which} model"))?;
                model = Some(loaded);
            }
            let Some(model) = model.as_ref() else { continue };
            let params = serde_json::json!({ "model": which, "trained": models.trained });
            evaluations[i].push(run.evaluate_model(
                model,
                catalog,
                people,
                which,
                tasks,
                mode,
                seed,
                &params,
                &mut |_| progress.inc(1),
            )?);
        }
    }
    progress.finish_and_clear();
    Ok(modes
        .iter()
        .zip(evaluations)
        .filter_map(|((name, _), e)| {
            let [base, trained]: [ModelEvaluation; 2] = e.try_into().ok()?;
            Some(ModeResults { mode: (*name).to_owned(), base, trained })
        })
        .collect())
}

/// Writes and prints Table 4's rows, Table 19 and Figure 4 (first mode), and `summary.json`.
pub fn report(
    run: &ReasonerRun,
    catalog: &Catalog,
    results: &[ModeResults],
    trained: &Trained,
) -> anyhow::Result<()> {
    let setups = indievalue::sampling::ProbeSetup::of_survey(catalog).len();
    let mut rows = Vec::new();
    for r in results {
        for e in [&r.base, &r.trained] {
            let mut e = e.clone();
            e.label = format!("{} ({})", e.label, r.mode);
            rows.push(e);
        }
    }
    let t4 = table4(&rows, setups);
    let t19 = table19(&rows);
    write_table(run.dir(), "table4", &t4)?;
    write_table(run.dir(), "table19", &t19)?;
    println!("Table 4 (accuracy %, the evaluation people):\n{}", t4.to_markdown());
    println!("Table 19 (sd of group accuracies, points):\n{}", t19.to_markdown());
    if let Some(first) = results.first() {
        let plots = group_change_plots(&run.dir().join("figure4"), &first.base, &first.trained)?;
        println!("Figure 4: {} plots in {}", plots.len() / 2, run.dir().join("figure4").display());
    }
    let summary = serde_json::json!({
        "trained": trained,
        "results": results.iter().map(|r| serde_json::json!({
            "mode": r.mode,
            "base": { "polar": r.base.polar.report.setup_average(), "refined": r.base.refined.report.setup_average(), "all": r.base.all_average(), "inequity": r.base.inequity.index },
            "trained": { "polar": r.trained.polar.report.setup_average(), "refined": r.trained.refined.report.setup_average(), "all": r.trained.all_average(), "inequity": r.trained.inequity.index },
        })).collect::<Vec<_>>(),
        "written_by": concat!("indievalue ", env!("CARGO_PKG_VERSION")),
    });
    indievalue::files::write_json_atomic(&run.dir().join("summary.json"), &summary)?;
    Ok(())
}

fn write_table(dir: &Path, stem: &str, table: &Table) -> anyhow::Result<()> {
    table.write(dir.join(stem))?;
    Ok(())
}

/// A mode's name, the base model's predictions and the trained model's.
pub type ModePredictions = (String, Vec<Prediction>, Vec<Prediction>);

/// Per mode, the base and the trained model's predictions on `tasks` (one list, any forms),
/// each model loaded once; a finished evaluation is read back, an interrupted one resumed.
pub fn evaluate_predictions(
    catalog: &Catalog,
    tasks: &[indievalue::sampling::ProbeTask],
    models: &Models<'_>,
    modes: &[(&str, ProbeMode)],
    seed: u64,
) -> anyhow::Result<Vec<ModePredictions>> {
    let progress = bar(
        (2 * tasks.len() * modes.len()) as u64,
        "{bar:30} {pos}/{len} tasks {elapsed_precise} eta {eta} {msg}",
    );
    let mut out: Vec<ModePredictions> =
        modes.iter().map(|(n, _)| ((*n).to_owned(), Vec::new(), Vec::new())).collect();
    for (w, which) in ["base", "trained"].into_iter().enumerate() {
        let model = models.load(which)?;
        for (i, (name, mode)) in modes.iter().enumerate() {
            progress.set_message(format!("{which}, {name}"));
            let params = serde_json::json!({ "model": which, "trained": models.trained });
            let predictions = models.run.evaluate(
                &model,
                catalog,
                which,
                tasks,
                mode.clone(),
                seed,
                params,
                &mut |_| progress.inc(1),
            )?;
            if w == 0 {
                out[i].1 = predictions;
            } else {
                out[i].2 = predictions;
            }
        }
    }
    progress.finish_and_clear();
    Ok(out)
}

/// A consistency set's evaluation: per mode, the accuracy (percent of probes) of the base and
/// the trained model (the set's people are not survey respondents, so no inequity).
pub fn evaluate_consistency(
    catalog: &Catalog,
    tasks: &EvaluationTasks,
    models: &Models<'_>,
    modes: &[(&str, ProbeMode)],
    seed: u64,
) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let all: Vec<_> = tasks.polar.iter().chain(&tasks.refined).cloned().collect();
    let accuracy = |predictions: &[Prediction]| {
        let right = predictions.iter().filter(|p| p.correct()).count();
        100.0 * right as f64 / predictions.len().max(1) as f64
    };
    Ok(evaluate_predictions(catalog, &all, models, modes, seed)?
        .into_iter()
        .map(|(name, base, trained)| (name, accuracy(&base), accuracy(&trained)))
        .collect())
}

/// A baseline's label and its per-setup accuracy on polar and on refined probes.
pub type BaselineRow = (String, Vec<f64>, Vec<f64>);

/// One row per statistical baseline on both forms of `tasks` (per-setup accuracy, polar and
/// refined): Random (exact), Global, Resemble top-1 and top-24 and the learned reasoners
/// (seeded by `seed`), the training `pool` as the population the baselines learn from.
pub fn baseline_rows(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    pool: &[usize],
    tasks: &EvaluationTasks,
    seed: u64,
) -> anyhow::Result<Vec<BaselineRow>> {
    let options = SuiteOptions::with_learned(seed);
    let polar = run_baseline_suite(catalog, people, answers, pool, &tasks.polar, &options)?;
    let refined = run_baseline_suite(catalog, people, answers, pool, &tasks.refined, &options)?;
    let mut rows =
        vec![("Random (exact)".to_owned(), polar.random.clone(), refined.random.clone())];
    let exact = Bootstrap { samples: 0, ..Default::default() };
    let per_setup = |predictions: &[Prediction]| -> anyhow::Result<Vec<f64>> {
        let report = AccuracyReport::compute(catalog, predictions, &exact)?;
        Ok(report.per_setup.values().copied().collect())
    };
    for (p, r) in polar.runs.iter().zip(&refined.runs) {
        rows.push((polar.label_of(p), per_setup(&p.predictions)?, per_setup(&r.predictions)?));
    }
    Ok(rows)
}

/// The comparison table of one probing mode on both forms: every baseline row, then the base
/// and the trained model (per-setup accuracy).
pub fn comparison_table(
    title: &str,
    setups: usize,
    rows: &[BaselineRow],
    results: &ModeResults,
) -> Table {
    let mut table_rows: Vec<SetupRow> = Vec::new();
    for (name, polar, refined) in rows {
        table_rows.push(SetupRow::exact(format!("{name}, polar"), polar.clone()));
        table_rows.push(SetupRow::exact(format!("{name}, refined"), refined.clone()));
    }
    for (name, e) in [("SmolLM2 untrained", &results.base), ("SmolLM2 + LoRA", &results.trained)] {
        table_rows.push(SetupRow::measured(format!("{name}, polar"), &e.polar.report));
        table_rows.push(SetupRow::measured(format!("{name}, refined"), &e.refined.report));
    }
    setup_table(title, setups, &table_rows, &[])
}

/// The consistency set's table: chance, then each mode's accuracy before and after training.
pub fn consistency_table(chance: f64, results: &[(String, f64, f64)]) -> Table {
    let mut t =
        Table::new(["Consistency set (refined-for-polar, setup 1)", "untrained", "trained"]);
    t.push(["chance".to_owned(), format!("{chance:.1}"), format!("{chance:.1}")]);
    for (mode, before, after) in results {
        t.push([mode.clone(), format!("{before:.1}"), format!("{after:.1}")]);
    }
    t
}
