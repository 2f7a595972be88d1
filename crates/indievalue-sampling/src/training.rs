//! Training sets for a reasoner (§4, Table 18).

use crate::task::demographic_statements;
use crate::{
    AnswerMatrix, DemoMode, DemographicStatement, Demonstration, Demonstrations, Error, Result,
    TaskFileHeader,
};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity, Respondents};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag of training-set files.
pub const TRAINING_FORMAT: &str = "indievalue-training-set/1";

/// Whether demographic statements go into training examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemographicsMode {
    /// Value statements only.
    None,
    /// The person's demographic statements, then the value statements.
    Prepend,
    /// Demographic statements only (Table 5).
    Only,
}

impl std::str::FromStr for DemographicsMode {
    type Err = String;

    /// `none`, `prepend` or `only`.
    fn from_str(s: &str) -> Result<DemographicsMode, String> {
        match s {
            "none" => Ok(DemographicsMode::None),
            "prepend" => Ok(DemographicsMode::Prepend),
            "only" => Ok(DemographicsMode::Only),
            other => Err(format!("{other:?}: expected none, prepend or only")),
        }
    }
}

/// How a training set is drawn: for every question, `n_per_question` distinct training people who
/// answered it, split evenly across `combinations` of probe granularity and demonstration mode
/// (when `n_per_question` is not a multiple, the first combinations get one more).
///
/// ```
/// use indievalue_sampling::TrainingRecipe;
/// let r = TrainingRecipe::parse("p+r", "mixed+200", 1600).unwrap();
/// assert_eq!(r.combinations.len(), 4);
/// assert_eq!(r.name(), "[probe=p+r, demo=mixed+200, N=1600]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingRecipe {
    /// Examples per question.
    pub n_per_question: usize,
    /// (probe granularity, demonstration mode) combinations.
    pub combinations: Vec<(Granularity, DemoMode)>,
    /// Only training people of this group of the survey's balance item (the WVS: a continent,
    /// Figure 7). Stored under `continent` in files, its first name.
    #[serde(rename = "continent")]
    pub group: Option<String>,
    /// Demographic statements in the examples.
    pub demographics: DemographicsMode,
    /// Paper-style probe label (`p`, `r`, `p+r`).
    pub probe_label: String,
    /// Paper-style demonstration label (`200`, `mixed`, `mixed+200`).
    pub demo_label: String,
}

impl TrainingRecipe {
    /// Parses the paper's labels: probes `p`, `r` or `p+r`; demonstrations `200`, `mixed`,
    /// `mixed+200` (any `+`-joined list of [`DemoMode::parse`] forms).
    pub fn parse(probes: &str, demos: &str, n_per_question: usize) -> Result<TrainingRecipe> {
        let mut granularities = Vec::new();
        for p in probes.split('+') {
            granularities.push(match p {
                "p" | "polar" => Granularity::Polar,
                "r" | "refined" => Granularity::Refined,
                other => {
                    return Err(Error::Infeasible(format!("unknown probe form {other:?}")));
                }
            });
        }
        let modes = demos
            .split('+')
            .map(DemoMode::parse)
            .collect::<Result<Vec<_>>>()?;
        let combinations = granularities
            .iter()
            .flat_map(|&g| modes.iter().map(move |&m| (g, m)))
            .collect();
        Ok(TrainingRecipe {
            n_per_question,
            combinations,
            group: None,
            demographics: DemographicsMode::None,
            probe_label: probes.to_owned(),
            demo_label: demos.to_owned(),
        })
    }

    /// Parses `PROBES:DEMOS` (`p+r:mixed+200`), as [`TrainingRecipe::parse`].
    ///
    /// ```
    /// use indievalue_sampling::TrainingRecipe;
    /// assert_eq!(TrainingRecipe::from_label("p:20", 4).unwrap().combinations.len(), 1);
    /// assert!(TrainingRecipe::from_label("p+r", 4).is_err());
    /// ```
    pub fn from_label(label: &str, n_per_question: usize) -> Result<TrainingRecipe> {
        let (probes, demos) = label.split_once(':').ok_or_else(|| {
            Error::Infeasible(format!(
                "recipe {label:?}: expected PROBES:DEMOS, e.g. p+r:mixed+200"
            ))
        })?;
        TrainingRecipe::parse(probes, demos, n_per_question)
    }

    /// The paper's name for the recipe.
    pub fn name(&self) -> String {
        format!(
            "[probe={}, demo={}, N={}]",
            self.probe_label, self.demo_label, self.n_per_question
        )
    }
}

/// One training example, compact (catalog positions); [`TrainingExample::record`] gives the file
/// form with ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingExample {
    /// The probed question (catalog position).
    pub question: u16,
    /// Respondent row.
    pub row: u32,
    /// The person's `D_INTERVIEW`.
    pub person: i64,
    /// Statement form of the probe and the demonstrations.
    pub granularity: Granularity,
    /// How the demonstrations were drawn.
    pub demo_mode: DemoMode,
    /// `(question position, statement)` demonstrations, never the probed question.
    pub demonstrations: Vec<(u16, u8)>,
    /// The answer to predict.
    pub gold: u8,
}

/// A training example as written to a file (ids, not positions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The probed question id.
    pub question: String,
    /// The person's `D_INTERVIEW`.
    pub person: i64,
    /// Statement form of the probe and the demonstrations.
    pub granularity: Granularity,
    /// How the demonstrations were drawn.
    pub demo_mode: DemoMode,
    /// Demographic statements (empty unless the recipe asks for them).
    pub demographics: Vec<DemographicStatement>,
    /// Demonstrations in sampled order.
    pub demonstrations: Vec<Demonstration>,
    /// Number of options of the probe.
    pub options: u8,
    /// The answer to predict.
    pub gold: u8,
}

impl TrainingRecord {
    /// The example as a one-probe task (setup 0): what the probe crate renders into the C.1
    /// prompt, so training and evaluation prompts come from the same code.
    pub fn as_task(&self) -> crate::ProbeTask {
        crate::ProbeTask {
            person: self.person,
            setup: 0,
            probe_granularity: self.granularity,
            demo_granularity: self.granularity,
            demo_mode: self.demo_mode,
            demographics: self.demographics.clone(),
            demonstrations: self.demonstrations.clone(),
            probes: vec![crate::Probe {
                question: self.question.clone(),
                options: self.options,
                gold: self.gold,
            }],
        }
    }
}

impl TrainingExample {
    /// The file form.
    pub fn record(
        &self,
        catalog: &Catalog,
        people: &Respondents,
        demographics: DemographicsMode,
    ) -> TrainingRecord {
        let q = &catalog.questions()[self.question as usize];
        TrainingRecord {
            question: q.id().to_string(),
            person: self.person,
            granularity: self.granularity,
            demo_mode: self.demo_mode,
            demographics: if demographics == DemographicsMode::None {
                Vec::new()
            } else {
                demographic_statements(catalog, people, self.row as usize)
            },
            demonstrations: self
                .demonstrations
                .iter()
                .map(|&(dq, s)| Demonstration {
                    question: catalog.questions()[dq as usize].id().to_string(),
                    statement: s,
                })
                .collect(),
            options: q.statements(self.granularity).len() as u8,
            gold: self.gold,
        }
    }
}

/// Builds a training set from the training pool `pool` (respondent rows): per question, in
/// catalog order, `n_per_question` examples from distinct people, each built once.
pub fn build_training_set(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    pool: &[usize],
    recipe: &TrainingRecipe,
    seed: u64,
) -> Result<Vec<TrainingExample>> {
    if recipe.combinations.is_empty() {
        return Err(Error::Infeasible("a recipe needs a combination".into()));
    }
    let mut pool: Vec<usize> = match &recipe.group {
        Some(name) => {
            let of = crate::GroupOf::balance(catalog, people)?;
            pool.iter()
                .copied()
                .filter(|&r| of.name(r) == Some(name.as_str()))
                .collect()
        }
        None => pool.to_vec(),
    };
    // Independent of the table's row order.
    pool.sort_by_key(|&r| people.ids()[r]);
    let nq = catalog.questions().len();
    let per_question: Vec<Result<Vec<TrainingExample>>> = (0..nq)
        .into_par_iter()
        .map(|q| {
            let id = catalog.questions()[q].id().as_str();
            let mut candidates: Vec<usize> = pool
                .iter()
                .copied()
                .filter(|&r| answers.answer(r, q, Granularity::Polar).is_some())
                .collect();
            if candidates.len() < recipe.n_per_question {
                return Err(Error::Infeasible(format!(
                    "question {id}: only {} training people answered it, {} needed",
                    candidates.len(),
                    recipe.n_per_question
                )));
            }
            let mut rng = Rng::derive(seed, &[label("training-people"), label(id)]);
            for i in 0..recipe.n_per_question {
                let j = i + rng.below((candidates.len() - i) as u64) as usize;
                candidates.swap(i, j);
            }
            let mut excluded = vec![false; nq];
            excluded[q] = true;
            let k = recipe.combinations.len();
            Ok(candidates[..recipe.n_per_question]
                .iter()
                .enumerate()
                .map(|(i, &row)| {
                    let (granularity, mode) = recipe.combinations[i % k];
                    let person = people.ids()[row];
                    let mut rng = Rng::derive(
                        seed,
                        &[label("training-demonstrations"), label(id), person as u64],
                    );
                    let mode = if recipe.demographics == DemographicsMode::Only {
                        DemoMode::DemographicsOnly
                    } else {
                        mode
                    };
                    let demos = Demonstrations::sample(
                        answers,
                        row,
                        &excluded,
                        mode,
                        granularity,
                        &mut rng,
                    );
                    TrainingExample {
                        question: q as u16,
                        row: row as u32,
                        person,
                        granularity,
                        demo_mode: mode,
                        demonstrations: demos.items,
                        gold: answers.answer(row, q, granularity).unwrap_or(0),
                    }
                })
                .collect())
        })
        .collect();
    let mut out = Vec::with_capacity(nq * recipe.n_per_question);
    for examples in per_question {
        out.extend(examples?);
    }
    Ok(out)
}

/// Writes a training set: a [`TaskFileHeader`] line ([`TRAINING_FORMAT`]), then one
/// [`TrainingRecord`] a line, atomically.
pub fn write_training_set(
    path: impl AsRef<Path>,
    header: &TaskFileHeader,
    catalog: &Catalog,
    people: &Respondents,
    recipe: &TrainingRecipe,
    examples: &[TrainingExample],
) -> Result<()> {
    let records: Vec<TrainingRecord> = examples
        .iter()
        .map(|e| e.record(catalog, people, recipe.demographics))
        .collect();
    crate::TaskFile::write(path, header, &records)
}
