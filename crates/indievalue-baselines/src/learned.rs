//! Reasoners that learn from the whole training pool which answers predict which, their
//! cross-validation on the pool, and the choice of a recommended one.
//!
//! - **Weighted** neighbours ([`LearnedReasoner::Weighted`]): every training person votes on
//!   every probe question they answered with weight `exp(beta x (similarity - best))`
//!   (similarity as resemble's: shared demonstration answers); the neighbours are the
//!   best-ranked similarity levels, at most [`LearnedSettings::max_neighbours`] people (whole
//!   levels) and none whose weight is below `exp(-12)` of the best. `beta` is chosen by
//!   cross-validation.
//! - **Logistic** ([`LearnedReasoner::Logistic`]): a multinomial logistic regression per probe
//!   question over the one-hot demonstrations (missing as zeros), all probe questions of a setup
//!   fitted jointly by L-BFGS, L2 prior precision `lambda` chosen by cross-validation (as a
//!   multiple of the mean demonstration count: a row's logit sums that many weights). Its
//!   training rows are pool people whose demonstrations are drawn exactly as the evaluation
//!   tasks draw theirs (the tasks' demonstration mode, from the questions the tasks show), so
//!   the model learns from what it will be shown.
//! - **Latent classes** ([`LearnedReasoner::Latent`]): a mixture of independent categorical
//!   answers fitted by EM on every answer of the pool; a person's probe answers are predicted
//!   from the class posterior given their demonstrations (its log-likelihood scaled by a
//!   temperature). The number of classes (one model for all setups) and the temperature (per
//!   setup) are chosen by cross-validation.
//! - **Blend** ([`LearnedReasoner::Blend`]): a convex combination of the weighted, logistic and
//!   latent probabilities (each with its own chosen settings), weights on a grid chosen by
//!   cross-validation per setup.
//! - The **recommended** reasoner is whichever of resemble top-k, weighted, logistic, latent and
//!   blend has the best cross-validated accuracy averaged over setups (ties to the earlier,
//!   top-k first).
//!
//! ## Cross-validation
//!
//! Only the training pool is used. Every pool person gets a fold and an order key from their
//! own seeded stream (so neither depends on who else is in the pool). A fold's validation
//! people are its members with the smallest keys, enough folds being used to reach
//! [`LearnedSettings::validation_people`]; its training people the other folds' members with
//! the smallest keys, at most [`LearnedSettings::max_fit_rows`] rows. Validation people are shown
//! simulated demonstrations (as above) and their probe answers are predicted: the logistic and
//! latent models are fitted without them, neighbours are the whole pool less the person.
//! Accuracy is as the evaluation's: per person the share of answered probes right, averaged
//! over people, then over setups. The final models are fitted on the whole pool (at most
//! [`LearnedSettings::max_final_rows`] rows, smallest keys first) with the chosen settings, the
//! logistic one starting from the cross-validation fit of its `lambda`.
//!
//! A pool smaller than [`LearnedSettings::min_training_rows`] has its people drawn several
//! times for the logistic model, each time with other demonstrations (at most
//! [`LearnedSettings::max_replicates`]); a row then weighs one over the number of draws, so
//! `lambda` keeps its meaning.
//!
//! Nothing of an evaluation person but the task's structure (which questions are probed and
//! shown, the demonstration mode) and, at prediction, the task's own demonstrations is read.

use crate::global::question_index;
use crate::latent::{AnswerFeatures, LatentClasses, LatentSettings};
use crate::layout::{DemoEncoding, ProbeBlocks, TaskGroup, argmax, task_groups};
use crate::logistic::{FitSettings, LogisticModel, TrainingRows};
use crate::neighbours::{PoolVotes, VoteRequest};
use crate::resemble::ResembleIndex;
use crate::{Error, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, NO_ANSWER, Respondents};
use indievalue_metrics::Prediction;
use indievalue_sampling::{AnswerMatrix, DemoMode, ProbeTask};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The reasoners compared by cross-validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnedReasoner {
    /// Resemble top-k (the paper's top cluster), `k` = [`LearnedSettings::top_k`].
    TopK,
    /// Similarity-weighted neighbours.
    Weighted,
    /// The per-question logistic regression.
    Logistic,
    /// The latent class model.
    Latent,
    /// The blend of weighted, logistic and latent probabilities.
    Blend,
}

impl LearnedReasoner {
    /// All of them, in the order ties are broken (the earlier wins).
    pub const ALL: [LearnedReasoner; 5] = [
        LearnedReasoner::TopK,
        LearnedReasoner::Weighted,
        LearnedReasoner::Logistic,
        LearnedReasoner::Latent,
        LearnedReasoner::Blend,
    ];

    /// The row name (file stem, summary key): `top{k}`, `weighted`, `logistic`, `latent`,
    /// `blend`.
    pub fn name(self, top_k: usize) -> String {
        match self {
            LearnedReasoner::TopK => format!("top{top_k}"),
            LearnedReasoner::Weighted => "weighted".into(),
            LearnedReasoner::Logistic => "logistic".into(),
            LearnedReasoner::Latent => "latent".into(),
            LearnedReasoner::Blend => "blend".into(),
        }
    }

    /// The table label.
    pub fn label(self, top_k: usize) -> String {
        match self {
            LearnedReasoner::TopK => format!("Resemble (top cluster, k={top_k})"),
            LearnedReasoner::Weighted => "Resemble (similarity-weighted)".into(),
            LearnedReasoner::Logistic => "Logistic regression (per question)".into(),
            LearnedReasoner::Latent => "Latent classes (EM)".into(),
            LearnedReasoner::Blend => "Blend (weighted + logistic + latent)".into(),
        }
    }
}

impl fmt::Display for LearnedReasoner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LearnedReasoner::TopK => "top_k",
            LearnedReasoner::Weighted => "weighted",
            LearnedReasoner::Logistic => "logistic",
            LearnedReasoner::Latent => "latent",
            LearnedReasoner::Blend => "blend",
        })
    }
}

/// Settings of the learned reasoners and their cross-validation. `LearnedSettings::new(seed)`
/// gives the documented defaults, sized to fit a 93,279-person survey in about two minutes on
/// two cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedSettings {
    /// Seed of the folds, the order keys and the simulated demonstrations.
    pub seed: u64,
    /// k of the top-k candidate (the suite sets it to its reported k).
    pub top_k: usize,
    /// Weightings (beta) tried for the weighted neighbours.
    pub betas: Vec<f64>,
    /// Prior precisions tried for the logistic model, per demonstration (lambda = this times the
    /// mean demonstration count), strongest first (each fit starts from the previous one's
    /// weights; the path stops once accuracy on the first fold has fallen twice in a row).
    pub lambdas_per_demonstration: Vec<f64>,
    /// Numbers of latent classes tried (those above a `min_people_per_class` share of the
    /// training people are left out).
    pub classes: Vec<usize>,
    /// Training people per latent class, at least.
    pub min_people_per_class: usize,
    /// Temperatures of the latent posterior tried.
    pub temperatures: Vec<f64>,
    /// The blend's weights are multiples of one over this (a grid on the simplex).
    pub blend_steps: usize,
    /// Folds the pool is split into.
    pub folds: usize,
    /// Validation people wanted per setup (folds are used until there are this many).
    pub validation_people: usize,
    /// Training rows of a cross-validation fit, at most (people times replicates).
    pub max_fit_rows: usize,
    /// Training rows of the final fit, at most.
    pub max_final_rows: usize,
    /// Training rows wanted: a small pool's people are drawn several times (with other
    /// demonstrations) until there are this many rows...
    pub min_training_rows: usize,
    /// ... but at most this many times.
    pub max_replicates: usize,
    /// Weighted voters per query, at most (whole similarity levels).
    pub max_neighbours: usize,
    /// L-BFGS iterations per cross-validation fit, at most.
    pub max_iterations: u64,
    /// L-BFGS iterations of the final fit (which starts from the cross-validation fit of the
    /// chosen lambda), at most.
    pub final_iterations: u64,
    /// A logistic fit stops when an iteration improves the objective by less than this per
    /// person.
    pub cost_tolerance: f64,
    /// EM iterations of a latent class fit, at most.
    pub latent_iterations: usize,
    /// A latent class fit stops when an iteration raises the mean log-likelihood by less than
    /// this.
    pub latent_tolerance: f64,
}

impl LearnedSettings {
    /// The defaults with `seed`.
    pub fn new(seed: u64) -> LearnedSettings {
        LearnedSettings {
            seed,
            top_k: 24,
            betas: vec![0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
            lambdas_per_demonstration: vec![10.0, 3.0, 1.0, 0.3, 0.1],
            classes: vec![8, 16, 32, 64],
            min_people_per_class: 25,
            temperatures: vec![0.25, 0.5, 1.0],
            blend_steps: 4,
            folds: 5,
            validation_people: 3000,
            max_fit_rows: 8_000,
            max_final_rows: 40_000,
            min_training_rows: 12_000,
            max_replicates: 8,
            max_neighbours: 4096,
            max_iterations: 40,
            final_iterations: 25,
            cost_tolerance: 1e-5,
            latent_iterations: 60,
            latent_tolerance: 1e-3,
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Settings(what.to_owned()));
        let positive = |v: &[f64]| !v.is_empty() && v.iter().all(|b| b.is_finite() && *b > 0.0);
        if self.top_k == 0 {
            return Err(Error::ZeroK);
        }
        if !positive(&self.betas)
            || !positive(&self.lambdas_per_demonstration)
            || !positive(&self.temperatures)
        {
            return bad("betas, lambdas and temperatures must be positive and not empty");
        }
        if self.classes.is_empty() || self.classes.contains(&0) {
            return bad("classes must be positive and not empty");
        }
        if self.folds < 2 || self.blend_steps == 0 {
            return bad("at least 2 folds and 1 blend step");
        }
        if self.validation_people == 0 || self.max_fit_rows == 0 || self.max_final_rows == 0 {
            return bad("validation_people, max_fit_rows and max_final_rows must be positive");
        }
        if self.max_replicates == 0 || self.max_neighbours == 0 {
            return bad("max_replicates and max_neighbours must be positive");
        }
        Ok(())
    }
}

impl Default for LearnedSettings {
    /// [`LearnedSettings::new`] with seed 0.
    fn default() -> Self {
        LearnedSettings::new(0)
    }
}

/// What cross-validation measured and chose for one setup (one group of tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupSelection {
    /// The probe setup.
    pub setup: usize,
    /// The tasks' demonstration mode (the simulated demonstrations').
    pub demo_mode: DemoMode,
    /// Probe questions of the setup.
    pub probe_questions: usize,
    /// Questions demonstrations are drawn from.
    pub demo_questions: usize,
    /// Validation people (pool people with at least one answered probe).
    pub validation_people: usize,
    /// Training people of the final logistic fit.
    pub final_people: usize,
    /// Draws of demonstrations per logistic training person.
    pub replicates: usize,
    /// Mean demonstrations of the logistic training rows.
    pub mean_demonstrations: f64,
    /// L-BFGS iterations of the first fold's fits, one per lambda.
    pub fit_iterations: Vec<u64>,
    /// L-BFGS iterations of the final fit.
    pub final_iterations: u64,
    /// Cross-validated accuracy (percent) of every candidate.
    pub accuracy: BTreeMap<LearnedReasoner, f64>,
    /// Cross-validated accuracy of the weighted neighbours for every beta tried.
    pub beta_accuracy: Vec<(f64, f64)>,
    /// Cross-validated accuracy of the logistic model for every lambda tried.
    pub lambda_accuracy: Vec<(f64, f64)>,
    /// Cross-validated accuracy of the latent model for every (classes, temperature) tried.
    pub latent_accuracy: Vec<(usize, f64, f64)>,
    /// The weighted neighbours' beta.
    pub weighted_beta: f64,
    /// The logistic model's lambda.
    pub lambda: f64,
    /// The latent posterior's temperature.
    pub temperature: f64,
    /// The blend's weights of weighted, logistic and latent probabilities.
    pub blend_weights: [f64; 3],
}

/// What cross-validation chose, over all setups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Per setup (task group), in order of first appearance in the tasks.
    pub setups: Vec<SetupSelection>,
    /// Latent classes of the (shared) latent model.
    pub classes: usize,
    /// EM iterations of the final latent fit.
    pub latent_iterations: usize,
    /// Folds used.
    pub folds_used: usize,
    /// Cross-validated accuracy of every candidate, averaged over the setups.
    pub accuracy: BTreeMap<LearnedReasoner, f64>,
    /// The candidate with the best average (ties to the earlier in [`LearnedReasoner::ALL`]).
    pub recommended: LearnedReasoner,
    /// k of the top-k candidate.
    pub top_k: usize,
}

/// The fitted state of one task group.
#[derive(Debug, Clone)]
struct GroupModel {
    group: TaskGroup,
    encoding: DemoEncoding,
    votes: PoolVotes,
    logistic: LogisticModel,
    /// Block of every question position (`None` if not probed).
    block_of: Vec<Option<usize>>,
    weighted_beta: f64,
    temperature: f64,
    blend_weights: [f64; 3],
}

/// The learned reasoners, fitted on a training pool for one set of tasks.
///
/// ```
/// use indievalue_baselines::{LearnedReasoners, LearnedSettings};
/// use indievalue_catalog::{Catalog, Granularity};
/// use indievalue_sampling::{AnswerMatrix, DemoMode, DemoSpec, ProbeSetup, TaskSpec, build_probe_tasks};
/// use indievalue_synth::{SynthConfig, SyntheticModel};
/// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let config = SynthConfig { people: 300, seed: 4, ..Default::default() };
/// let people = SyntheticModel::new(&catalog, &config).unwrap().respondents(&catalog).unwrap();
/// let answers = AnswerMatrix::new(&people);
/// let (eval, pool): (Vec<usize>, Vec<usize>) = (0..people.len()).partition(|r| r % 10 == 0);
/// let setups = ProbeSetup::of_survey(&catalog);
/// let demos = DemoSpec { mode: DemoMode::Fixed(20), granularity: Granularity::Polar, demographics: false };
/// let spec = TaskSpec { setups: &setups, demos, probe_granularity: Granularity::Polar, seed: 1 };
/// let tasks = build_probe_tasks(&catalog, &people, &answers, &eval, &spec);
/// let settings = LearnedSettings { min_training_rows: 1000, max_iterations: 20, ..LearnedSettings::new(7) };
/// let learned = LearnedReasoners::fit(&catalog, &people, &answers, &pool, &tasks, &settings).unwrap();
/// let predictions = learned.predict(&catalog, &tasks).unwrap();
/// let probes: usize = tasks.iter().map(|t| t.probes.len()).sum();
/// assert_eq!(predictions.logistic.len(), probes);
/// assert_eq!(learned.selection().setups.len(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct LearnedReasoners {
    index: ResembleIndex,
    features: AnswerFeatures,
    latent: LatentClasses,
    groups: Vec<GroupModel>,
    selection: Selection,
    settings: LearnedSettings,
}

/// Predictions of the learned reasoners for every probe of every task, task by task (the
/// option probabilities included).
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedPredictions {
    /// Similarity-weighted neighbours.
    pub weighted: Vec<Prediction>,
    /// The logistic model.
    pub logistic: Vec<Prediction>,
    /// The latent class model.
    pub latent: Vec<Prediction>,
    /// The blend.
    pub blend: Vec<Prediction>,
}

impl LearnedPredictions {
    /// The predictions of one learned reasoner (`None` for top-k, which is not learned here).
    pub fn of(&self, reasoner: LearnedReasoner) -> Option<&[Prediction]> {
        match reasoner {
            LearnedReasoner::TopK => None,
            LearnedReasoner::Weighted => Some(&self.weighted),
            LearnedReasoner::Logistic => Some(&self.logistic),
            LearnedReasoner::Latent => Some(&self.latent),
            LearnedReasoner::Blend => Some(&self.blend),
        }
    }
}

/// One pool person as cross-validation sees them.
#[derive(Debug, Clone, Copy)]
struct PoolPerson {
    row: usize,
    id: i64,
    /// Rank position in the resemble index.
    position: usize,
    key: u64,
    fold: usize,
}

/// Cross-validation results of one validation person in one group.
struct Validated {
    targets: Vec<u8>,
    /// Per lambda, `width` probabilities.
    logistic: Vec<Vec<f32>>,
    /// Per beta, `width` vote shares.
    weighted: Vec<Vec<f32>>,
    /// Per (classes, temperature), `width` probabilities.
    latent: Vec<Vec<f32>>,
    top_k: Vec<u8>,
}

/// Share (percent) of the answered blocks whose choice is the target; `None` when no block is
/// answered.
fn person_accuracy(targets: &[u8], choice: impl Fn(usize) -> u8) -> Option<f64> {
    let (mut right, mut answered) = (0u32, 0u32);
    for (j, &t) in targets.iter().enumerate() {
        if t != NO_ANSWER {
            answered += 1;
            right += u32::from(choice(j) == t);
        }
    }
    (answered > 0).then(|| 100.0 * f64::from(right) / f64::from(answered))
}

fn mean(values: impl IntoIterator<Item = Option<f64>>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// The index of the largest value, ties to the first; NaN never wins.
fn best_of(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() {
            best = i;
        }
    }
    best
}

/// The blend grid: weights (weighted, logistic, latent) that are multiples of `1 / steps` and
/// sum to one, the single reasoners (corners) first.
fn blend_grid(steps: usize) -> Vec<[f64; 3]> {
    let mut grid = vec![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for a in 0..=steps {
        for b in 0..=steps - a {
            let w = [a, b, steps - a - b].map(|v| v as f64 / steps as f64);
            if !grid.contains(&w) {
                grid.push(w);
            }
        }
    }
    grid
}

/// The blend of three probability vectors, written into `out`.
fn blend_into(parts: [&[f32]; 3], weights: [f64; 3], out: &mut [f32]) {
    let w = weights.map(|v| v as f32);
    for (i, o) in out.iter_mut().enumerate() {
        *o = w[0] * parts[0][i] + w[1] * parts[1][i] + w[2] * parts[2][i];
    }
}

/// Encodes demonstrations of many people into one row-major input matrix.
fn encode_rows(
    columns: usize,
    demos: &[Vec<(u16, u8)>],
    encode: impl Fn(&[(u16, u8)], &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut x = vec![0f32; demos.len() * columns];
    x.par_chunks_mut(columns)
        .zip(demos.par_iter())
        .for_each(|(row, d)| encode(d, row));
    x
}

/// The latent predictive of every block for many people: `rows x width`.
fn latent_probabilities(
    model: &LatentClasses,
    features: &AnswerFeatures,
    group: &TaskGroup,
    blocks: &ProbeBlocks,
    demos: &[Vec<(u16, u8)>],
    temperature: f64,
) -> Result<Vec<f32>> {
    let inputs = encode_rows(features.features(), demos, |d, row| {
        features.encode_demonstrations(d, row)
    });
    let posteriors = model.posteriors(inputs, temperature as f32)?;
    let (k, width) = (model.classes(), blocks.width());
    let mut out = vec![0f32; demos.len() * width];
    out.par_chunks_mut(width.max(1))
        .zip(posteriors.par_chunks(k))
        .for_each(|(row, post)| {
            for (j, &q) in group.probe_questions.iter().enumerate() {
                if let Some(block) = features.probe_block(q) {
                    model.predictive(post, block, &mut row[blocks.range(j)]);
                }
            }
        });
    Ok(out)
}

/// The cross-validation plan: the pool by key, which folds are used, how many validation people
/// each.
struct Plan {
    /// Pool people, ascending by (key, id).
    people: Vec<PoolPerson>,
    per_fold: usize,
}

impl Plan {
    fn validation(&self, fold: usize) -> impl Iterator<Item = &PoolPerson> {
        self.people
            .iter()
            .filter(move |p| p.fold == fold)
            .take(self.per_fold)
    }

    fn training(&self, fold: usize) -> impl Iterator<Item = &PoolPerson> {
        self.people.iter().filter(move |p| p.fold != fold)
    }
}

impl LearnedReasoners {
    /// Fits every learned reasoner on the training `pool` (respondent rows) for `tasks`: chooses
    /// their settings by cross-validation on the pool, then fits the final models. The tasks
    /// are read only for their structure (see the module documentation).
    pub fn fit(
        catalog: &Catalog,
        people: &Respondents,
        answers: &AnswerMatrix,
        pool: &[usize],
        tasks: &[ProbeTask],
        settings: &LearnedSettings,
    ) -> Result<LearnedReasoners> {
        settings.check()?;
        let (groups, _) = task_groups(catalog, tasks)?;
        let (demo_g, probe_g) = (groups[0].demo_granularity, groups[0].probe_granularity);
        let index = ResembleIndex::build(catalog, people, answers, pool, demo_g)?;
        let mut members: Vec<PoolPerson> = index
            .rows()
            .iter()
            .enumerate()
            .map(|(position, &row)| {
                let id = people.ids()[row];
                let key = Rng::derive(settings.seed, &[label("learned-pool-order"), id as u64])
                    .next_u64();
                let fold = Rng::derive(settings.seed, &[label("learned-cv-fold"), id as u64])
                    .below(settings.folds as u64) as usize;
                PoolPerson {
                    row,
                    id,
                    position,
                    key,
                    fold,
                }
            })
            .collect();
        members.sort_by_key(|p| (p.key, p.id));
        let fold_size = (members.len() / settings.folds).max(1);
        let folds_used = settings
            .validation_people
            .div_ceil(fold_size)
            .clamp(1, settings.folds);
        let plan = Plan {
            people: members,
            per_fold: settings.validation_people.div_ceil(folds_used),
        };

        // The latent class models of every fold and number of classes.
        let mut probed = vec![false; catalog.questions().len()];
        for g in &groups {
            for &q in &g.probe_questions {
                probed[q] = true;
            }
        }
        let features = AnswerFeatures::new(catalog, demo_g, probe_g, &probed);
        let latent_settings = |classes| LatentSettings {
            classes,
            max_iterations: settings.latent_iterations,
            tolerance: settings.latent_tolerance,
        };
        let training_cap = settings.max_fit_rows;
        let first_training: Vec<usize> =
            plan.training(0).take(training_cap).map(|p| p.row).collect();
        let classes: Vec<usize> = settings
            .classes
            .iter()
            .copied()
            .filter(|&k| k * settings.min_people_per_class <= first_training.len())
            .collect();
        let classes = if classes.is_empty() { vec![1] } else { classes };
        let mut latent_folds: Vec<Vec<LatentClasses>> = Vec::with_capacity(folds_used);
        for fold in 0..folds_used {
            let rows: Vec<usize> = plan
                .training(fold)
                .take(training_cap)
                .map(|p| p.row)
                .collect();
            let models = classes
                .iter()
                .map(|&k| Ok(LatentClasses::fit(&features, answers, &rows, &latent_settings(k))?.0))
                .collect::<Result<Vec<_>>>()?;
            latent_folds.push(models);
        }

        // Every group's cross-validation.
        let cvs = groups
            .into_iter()
            .map(|group| {
                GroupCv::run(
                    catalog,
                    answers,
                    &index,
                    &plan,
                    &features,
                    &latent_folds,
                    group,
                    settings,
                )
            })
            .collect::<Result<Vec<_>>>()?;

        // The number of latent classes: the best average over groups of each one's best
        // temperature.
        let nt = settings.temperatures.len();
        let class_scores: Vec<f64> = (0..classes.len())
            .map(|c| {
                let per_group: Vec<f64> = cvs
                    .iter()
                    .map(|cv| {
                        (0..nt)
                            .map(|t| cv.latent_accuracy[c * nt + t])
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .collect();
                indievalue_metrics::setup_average(&per_group)
            })
            .collect();
        let best_classes = best_of(&class_scores);
        let final_rows: Vec<usize> = plan
            .people
            .iter()
            .take(settings.max_final_rows)
            .map(|p| p.row)
            .collect();
        let (latent, latent_iterations) = LatentClasses::fit(
            &features,
            answers,
            &final_rows,
            &latent_settings(classes[best_classes]),
        )?;

        let mut fitted = Vec::with_capacity(cvs.len());
        let mut selections = Vec::with_capacity(cvs.len());
        for cv in cvs {
            let (model, selection) = cv.finish(answers, &plan, best_classes, &classes, settings)?;
            fitted.push(model);
            selections.push(selection);
        }
        let accuracy: BTreeMap<LearnedReasoner, f64> = LearnedReasoner::ALL
            .iter()
            .map(|&r| {
                let values: Vec<f64> = selections.iter().map(|s| s.accuracy[&r]).collect();
                (r, indievalue_metrics::setup_average(&values))
            })
            .collect();
        let averages: Vec<f64> = LearnedReasoner::ALL.iter().map(|r| accuracy[r]).collect();
        let recommended = LearnedReasoner::ALL[best_of(&averages)];
        Ok(LearnedReasoners {
            index,
            features,
            latent,
            groups: fitted,
            selection: Selection {
                setups: selections,
                classes: classes[best_classes],
                latent_iterations,
                folds_used,
                accuracy,
                recommended,
                top_k: settings.top_k,
            },
            settings: settings.clone(),
        })
    }

    /// What cross-validation measured and chose.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The recommended reasoner.
    pub fn recommended(&self) -> LearnedReasoner {
        self.selection.recommended
    }

    /// The settings the reasoners were fitted with.
    pub fn settings(&self) -> &LearnedSettings {
        &self.settings
    }

    /// Predictions of the weighted, logistic, latent and blend reasoners for every probe of
    /// `tasks` (tasks of the setups and demonstration modes they were fitted for).
    pub fn predict(&self, catalog: &Catalog, tasks: &[ProbeTask]) -> Result<LearnedPredictions> {
        // Group and demonstrations of every task.
        let mut group_of = Vec::with_capacity(tasks.len());
        let mut demos_of = Vec::with_capacity(tasks.len());
        for task in tasks {
            let g = self
                .groups
                .iter()
                .position(|m| {
                    m.group.setup == task.setup
                        && m.group.demo_mode == task.demo_mode
                        && m.group.demo_granularity == task.demo_granularity
                        && m.group.probe_granularity == task.probe_granularity
                })
                .ok_or(Error::NotFitted {
                    person: task.person,
                    setup: task.setup,
                })?;
            let demos = task
                .demonstrations
                .iter()
                .map(|d| {
                    let q = question_index(catalog, task.person, &d.question)?;
                    Ok((q as u16, d.statement))
                })
                .collect::<Result<Vec<_>>>()?;
            group_of.push(g);
            demos_of.push(demos);
        }
        // Logistic and latent probabilities, group by group.
        let mut model_rows: Vec<Option<(Vec<f32>, Vec<f32>)>> = vec![None; tasks.len()];
        for (g, m) in self.groups.iter().enumerate() {
            let members: Vec<usize> = (0..tasks.len()).filter(|&t| group_of[t] == g).collect();
            let demos: Vec<Vec<(u16, u8)>> = members.iter().map(|&t| demos_of[t].clone()).collect();
            let blocks = m.votes.blocks();
            let inputs = encode_rows(m.encoding.columns(), &demos, |d, row| {
                m.encoding.encode(d, row)
            });
            let logistic = m.logistic.probabilities(inputs, blocks)?;
            let latent = latent_probabilities(
                &self.latent,
                &self.features,
                &m.group,
                blocks,
                &demos,
                m.temperature,
            )?;
            let width = blocks.width();
            for (i, &t) in members.iter().enumerate() {
                let row = i * width..(i + 1) * width;
                model_rows[t] = Some((logistic[row.clone()].to_vec(), latent[row].to_vec()));
            }
        }
        type TaskOutput = [Vec<Prediction>; 4];
        let outputs: Vec<TaskOutput> = tasks
            .par_iter()
            .enumerate()
            .map_init(Vec::new, |sims, (t, task)| -> Result<TaskOutput> {
                let m = &self.groups[group_of[t]];
                let demos: Vec<(usize, u8)> = demos_of[t]
                    .iter()
                    .map(|&(q, s)| (usize::from(q), s))
                    .collect();
                self.index.similarities(&self.index.mask(&demos)?, sims);
                let request = VoteRequest {
                    betas: &[m.weighted_beta],
                    top_k: 0,
                    max_neighbours: self.settings.max_neighbours,
                };
                let votes = m.votes.query(sims, None, &request);
                let (logistic, latent) = model_rows[t]
                    .as_ref()
                    .map_or((&[][..], &[][..]), |(a, b)| (a.as_slice(), b.as_slice()));
                let blocks = m.votes.blocks();
                let mut out: TaskOutput = Default::default();
                for probe in &task.probes {
                    let q = question_index(catalog, task.person, &probe.question)?;
                    let j = m.block_of[q].ok_or_else(|| Error::UnknownQuestion {
                        person: task.person,
                        question: probe.question.clone(),
                    })?;
                    let r = blocks.range(j);
                    let parts = [
                        &votes.weighted[0][r.clone()],
                        &logistic[r.clone()],
                        &latent[r],
                    ];
                    let mut blended = vec![0f32; parts[0].len()];
                    blend_into(parts, m.blend_weights, &mut blended);
                    let rows = [parts[0], parts[1], parts[2], &blended[..]];
                    for (list, p) in out.iter_mut().zip(rows) {
                        list.push(Prediction::new(
                            task.person,
                            task.setup,
                            &probe.question,
                            task.probe_granularity,
                            Some(argmax(p)),
                            probe.gold,
                            Some(p.to_vec()),
                        ));
                    }
                }
                Ok(out)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut predictions = LearnedPredictions {
            weighted: Vec::new(),
            logistic: Vec::new(),
            latent: Vec::new(),
            blend: Vec::new(),
        };
        for [w, l, c, b] in outputs {
            predictions.weighted.extend(w);
            predictions.logistic.extend(l);
            predictions.latent.extend(c);
            predictions.blend.extend(b);
        }
        Ok(predictions)
    }
}

/// One group's cross-validation: everything measured, before the choices that need every
/// group (the number of latent classes).
struct GroupCv {
    group: TaskGroup,
    encoding: DemoEncoding,
    blocks: ProbeBlocks,
    votes: PoolVotes,
    block_of: Vec<Option<usize>>,
    validated: Vec<Validated>,
    /// The first fold's logistic fit of every lambda.
    warm: Vec<Option<LogisticModel>>,
    fit_iterations: Vec<u64>,
    replicates: usize,
    mean_demonstrations: f64,
    lambdas: Vec<f64>,
    /// Accuracy of every (classes, temperature), classes major.
    latent_accuracy: Vec<f64>,
}

impl GroupCv {
    /// Simulated demonstrations of a pool person.
    fn simulate(
        &self,
        answers: &AnswerMatrix,
        p: &PoolPerson,
        replicate: usize,
        seed: u64,
        excluded: &[bool],
    ) -> Vec<(u16, u8)> {
        self.group
            .simulate(answers, p.row, p.id, seed, replicate, excluded)
    }

    /// Training rows of the logistic model for a list of people (every replicate).
    fn training_rows(
        &self,
        answers: &AnswerMatrix,
        people: &[PoolPerson],
        seed: u64,
    ) -> Result<(TrainingRows, f64)> {
        let excluded = self.group.excluded(answers.questions());
        let pairs: Vec<(PoolPerson, usize)> = people
            .iter()
            .flat_map(|&p| (0..self.replicates).map(move |r| (p, r)))
            .collect();
        let demos: Vec<Vec<(u16, u8)>> = pairs
            .par_iter()
            .map(|(p, r)| self.simulate(answers, p, *r, seed, &excluded))
            .collect();
        let mean_demos =
            demos.iter().map(Vec::len).sum::<usize>() as f64 / demos.len().max(1) as f64;
        let targets: Vec<u8> = pairs
            .iter()
            .flat_map(|(p, _)| self.group.targets(answers, p.row))
            .collect();
        let inputs = encode_rows(self.encoding.columns(), &demos, |d, row| {
            self.encoding.encode(d, row)
        });
        let rows = TrainingRows::new(
            inputs,
            self.encoding.columns(),
            targets,
            1.0 / self.replicates as f32,
        )?;
        Ok((rows, mean_demos))
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        catalog: &Catalog,
        answers: &AnswerMatrix,
        index: &ResembleIndex,
        plan: &Plan,
        features: &AnswerFeatures,
        latent_folds: &[Vec<LatentClasses>],
        group: TaskGroup,
        settings: &LearnedSettings,
    ) -> Result<GroupCv> {
        let nq = catalog.questions().len();
        let encoding = DemoEncoding::new(catalog, &group);
        let blocks = ProbeBlocks::new(catalog, &group);
        let votes = PoolVotes::new(index, blocks.clone(), |row| group.targets(answers, row));
        let mut block_of = vec![None; nq];
        for (j, &q) in group.probe_questions.iter().enumerate() {
            block_of[q] = Some(j);
        }
        let probes = group.clone();
        let has_target = |p: &&PoolPerson| TaskGroup::any_target(&probes.targets(answers, p.row));
        let eligible = plan.people.iter().filter(has_target).count();
        let replicates = settings
            .min_training_rows
            .div_ceil(eligible.max(1))
            .clamp(1, settings.max_replicates);
        let excluded = group.excluded(nq);
        let mut cv = GroupCv {
            group,
            encoding,
            blocks,
            votes,
            block_of,
            validated: Vec::new(),
            warm: vec![None; settings.lambdas_per_demonstration.len()],
            fit_iterations: Vec::new(),
            replicates,
            mean_demonstrations: 0.0,
            lambdas: Vec::new(),
            latent_accuracy: Vec::new(),
        };
        let width = cv.blocks.width();
        for (fold, latent_models) in latent_folds.iter().enumerate() {
            let validation: Vec<PoolPerson> =
                plan.validation(fold).filter(has_target).copied().collect();
            let training: Vec<PoolPerson> = plan
                .training(fold)
                .filter(has_target)
                .take((settings.max_fit_rows / replicates).max(1))
                .copied()
                .collect();
            let (data, mean_demos) = cv.training_rows(answers, &training, settings.seed)?;
            if fold == 0 {
                cv.mean_demonstrations = mean_demos;
                cv.lambdas = settings
                    .lambdas_per_demonstration
                    .iter()
                    .map(|c| c * mean_demos.max(1.0))
                    .collect();
            }
            let demos: Vec<Vec<(u16, u8)>> = validation
                .par_iter()
                .map(|p| cv.simulate(answers, p, 0, settings.seed, &excluded))
                .collect();
            let inputs = encode_rows(cv.encoding.columns(), &demos, |d, row| {
                cv.encoding.encode(d, row)
            });
            let mut logistic: Vec<Vec<f32>> = Vec::with_capacity(cv.lambdas.len());
            let mut previous: Option<LogisticModel> = None;
            let targets: Vec<Vec<u8>> = validation
                .iter()
                .map(|p| cv.group.targets(answers, p.row))
                .collect();
            let mut path_accuracy: Vec<f64> = Vec::new();
            for (l, &lambda) in cv.lambdas.clone().iter().enumerate() {
                let fit = FitSettings {
                    lambda,
                    max_iterations: settings.max_iterations,
                    cost_tolerance: settings.cost_tolerance,
                };
                let (model, iterations) = LogisticModel::fit(
                    &data,
                    &cv.blocks,
                    cv.encoding.features(),
                    &fit,
                    previous.as_ref(),
                )?;
                let probabilities = model.probabilities(inputs.clone(), &cv.blocks)?;
                if fold == 0 {
                    cv.warm[l] = Some(model.clone());
                    cv.fit_iterations.push(iterations);
                    // The path stops once weaker regularisation has lost twice in a row (on
                    // the first fold; later folds fit the same lambdas).
                    path_accuracy.push(mean(targets.iter().enumerate().map(|(i, t)| {
                        let row = &probabilities[i * width..(i + 1) * width];
                        person_accuracy(t, |j| argmax(&row[cv.blocks.range(j)]))
                    })));
                    let n = path_accuracy.len();
                    if n >= 3
                        && path_accuracy[n - 1] < path_accuracy[n - 2]
                        && path_accuracy[n - 2] < path_accuracy[n - 3]
                    {
                        cv.lambdas.truncate(n);
                    }
                }
                logistic.push(probabilities);
                previous = Some(model);
                if l + 1 >= cv.lambdas.len() {
                    break;
                }
            }
            let mut latent: Vec<Vec<f32>> = Vec::new();
            for model in latent_models {
                for &t in &settings.temperatures {
                    latent.push(latent_probabilities(
                        model, features, &cv.group, &cv.blocks, &demos, t,
                    )?);
                }
            }
            let request = VoteRequest {
                betas: &settings.betas,
                top_k: settings.top_k,
                max_neighbours: settings.max_neighbours,
            };
            let results: Vec<Validated> = validation
                .par_iter()
                .zip(demos.par_iter())
                .enumerate()
                .map_init(Vec::new, |sims, (i, (p, d))| -> Result<Validated> {
                    let d: Vec<(usize, u8)> = d.iter().map(|&(q, s)| (usize::from(q), s)).collect();
                    index.similarities(&index.mask(&d)?, sims);
                    let v = cv.votes.query(sims, Some(p.position), &request);
                    let row = |probs: &Vec<f32>| probs[i * width..(i + 1) * width].to_vec();
                    Ok(Validated {
                        targets: cv.group.targets(answers, p.row),
                        logistic: logistic.iter().map(row).collect(),
                        weighted: v.weighted,
                        latent: latent.iter().map(row).collect(),
                        top_k: v.top_k,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            cv.validated.extend(results);
        }
        cv.latent_accuracy = (0..latent_folds.first().map_or(0, Vec::len)
            * settings.temperatures.len())
            .map(|c| cv.accuracy_of(|v| &v.latent[c]))
            .collect();
        Ok(cv)
    }

    /// Cross-validated accuracy of the probabilities `probs` picks from each validated person.
    fn accuracy_of(&self, probs: impl Fn(&Validated) -> &Vec<f32> + Sync) -> f64 {
        mean(self.validated.iter().map(|v| {
            let p = probs(v);
            person_accuracy(&v.targets, |j| argmax(&p[self.blocks.range(j)]))
        }))
    }

    /// The group's choices (given the shared number of latent classes, `classes[best_classes]`)
    /// and its final logistic fit.
    fn finish(
        self,
        answers: &AnswerMatrix,
        plan: &Plan,
        best_classes: usize,
        classes: &[usize],
        settings: &LearnedSettings,
    ) -> Result<(GroupModel, SetupSelection)> {
        let nt = settings.temperatures.len();
        let top_k_accuracy = mean(
            self.validated
                .iter()
                .map(|v| person_accuracy(&v.targets, |j| v.top_k[j])),
        );
        let beta_accuracy: Vec<f64> = (0..settings.betas.len())
            .map(|b| self.accuracy_of(|v| &v.weighted[b]))
            .collect();
        let lambda_accuracy: Vec<f64> = (0..self.lambdas.len())
            .map(|l| self.accuracy_of(|v| &v.logistic[l]))
            .collect();
        let latent_row = &self.latent_accuracy[best_classes * nt..(best_classes + 1) * nt];
        let (best_beta, best_lambda, best_temperature) = (
            best_of(&beta_accuracy),
            best_of(&lambda_accuracy),
            best_of(latent_row),
        );
        let latent_index = best_classes * nt + best_temperature;
        let grid = blend_grid(settings.blend_steps);
        let blend_accuracy: Vec<f64> = grid
            .iter()
            .map(|&w| {
                mean(self.validated.iter().map(|v| {
                    let mut blended = vec![0f32; self.blocks.width()];
                    blend_into(
                        [
                            &v.weighted[best_beta],
                            &v.logistic[best_lambda],
                            &v.latent[latent_index],
                        ],
                        w,
                        &mut blended,
                    );
                    person_accuracy(&v.targets, |j| argmax(&blended[self.blocks.range(j)]))
                }))
            })
            .collect();
        let best_blend = best_of(&blend_accuracy);

        // The final logistic fit on the pool.
        let has_target =
            |p: &&PoolPerson| TaskGroup::any_target(&self.group.targets(answers, p.row));
        let final_people: Vec<PoolPerson> = plan
            .people
            .iter()
            .filter(has_target)
            .take((settings.max_final_rows / self.replicates).max(1))
            .copied()
            .collect();
        let (data, _) = self.training_rows(answers, &final_people, settings.seed)?;
        let lambda = self.lambdas[best_lambda];
        let fit = FitSettings {
            lambda,
            max_iterations: settings.final_iterations,
            cost_tolerance: settings.cost_tolerance,
        };
        let (logistic, final_iterations) = LogisticModel::fit(
            &data,
            &self.blocks,
            self.encoding.features(),
            &fit,
            self.warm[best_lambda].as_ref(),
        )?;
        let accuracy = BTreeMap::from([
            (LearnedReasoner::TopK, top_k_accuracy),
            (LearnedReasoner::Weighted, beta_accuracy[best_beta]),
            (LearnedReasoner::Logistic, lambda_accuracy[best_lambda]),
            (LearnedReasoner::Latent, latent_row[best_temperature]),
            (LearnedReasoner::Blend, blend_accuracy[best_blend]),
        ]);
        let selection = SetupSelection {
            setup: self.group.setup,
            demo_mode: self.group.demo_mode,
            probe_questions: self.group.probe_questions.len(),
            demo_questions: self.group.demo_questions.len(),
            validation_people: self.validated.len(),
            final_people: final_people.len(),
            replicates: self.replicates,
            mean_demonstrations: self.mean_demonstrations,
            fit_iterations: self.fit_iterations.clone(),
            final_iterations,
            accuracy,
            beta_accuracy: settings
                .betas
                .iter()
                .copied()
                .zip(beta_accuracy.iter().copied())
                .collect(),
            lambda_accuracy: self
                .lambdas
                .iter()
                .copied()
                .zip(lambda_accuracy.iter().copied())
                .collect(),
            latent_accuracy: self
                .latent_accuracy
                .iter()
                .enumerate()
                .map(|(i, &a)| (classes[i / nt], settings.temperatures[i % nt], a))
                .collect(),
            weighted_beta: settings.betas[best_beta],
            lambda,
            temperature: settings.temperatures[best_temperature],
            blend_weights: grid[best_blend],
        };
        let model = GroupModel {
            weighted_beta: settings.betas[best_beta],
            temperature: settings.temperatures[best_temperature],
            blend_weights: grid[best_blend],
            group: self.group,
            encoding: self.encoding,
            votes: self.votes,
            logistic,
            block_of: self.block_of,
        };
        Ok((model, selection))
    }
}
