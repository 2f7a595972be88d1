//! Probe setups: which questions are held out and predicted.

use crate::{Error, Result};
use indievalue_catalog::Catalog;
use serde::{Deserialize, Serialize};

/// One cross-validation split: the probe questions (catalog positions, in category order).
///
/// The paper's three setups (Table 13) follow one rule: group the questions by category in
/// metadata order; setup `p` takes, in every category, the questions at positions `3p`, `3p+1`,
/// `3p+2` modulo the category's size. A described survey sets the number of setups and of
/// questions per category (`[probes]` of `survey.toml`): positions `n*p + i`, `i < n`.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let setups = indievalue_sampling::ProbeSetup::of_survey(&catalog);
/// assert_eq!(setups.len(), 3);
/// // In a 5-question category, setup 1 takes positions 3, 4 and 0.
/// let ids = setups[1].question_ids(&catalog);
/// assert_eq!(&ids[..3], &["V4", "V5", "V1"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSetup {
    index: usize,
    questions: Vec<usize>,
}

impl ProbeSetup {
    /// The survey's setups, by its `[probes]` rule (the paper's Table 13 on the WVS: three
    /// setups of three questions per category).
    pub fn of_survey(catalog: &Catalog) -> Vec<ProbeSetup> {
        let rule = catalog.survey().probes;
        ProbeSetup::by_rule(catalog, rule.setups, rule.per_category)
    }

    /// `setups` setups of `per_category` questions per category, by Table 13's rule. A category
    /// with fewer questions than `per_category` gives each of them once.
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let setups = indievalue_sampling::ProbeSetup::by_rule(&catalog, 5, 1);
    /// assert_eq!(setups.len(), 5);
    /// assert_eq!(setups[4].questions().len(), 13);
    /// ```
    pub fn by_rule(catalog: &Catalog, setups: usize, per_category: usize) -> Vec<ProbeSetup> {
        (0..setups)
            .map(|p| {
                let mut questions = Vec::new();
                for category in catalog.categories() {
                    let members: Vec<usize> =
                        catalog.by_category(category).map(|(i, _)| i).collect();
                    if members.is_empty() {
                        continue;
                    }
                    for j in 0..per_category {
                        let q = members[(per_category * p + j) % members.len()];
                        if !questions.contains(&q) {
                            questions.push(q);
                        }
                    }
                }
                ProbeSetup {
                    index: p,
                    questions,
                }
            })
            .collect()
    }

    /// A custom setup from question ids.
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let s = indievalue_sampling::ProbeSetup::custom(&catalog, 0, &["V2", "V9"]).unwrap();
    /// assert_eq!(s.questions(), &[1, 8]);
    /// assert!(indievalue_sampling::ProbeSetup::custom(&catalog, 0, &["nope"]).is_err());
    /// ```
    pub fn custom(catalog: &Catalog, index: usize, ids: &[&str]) -> Result<ProbeSetup> {
        let mut questions = Vec::with_capacity(ids.len());
        for id in ids {
            let q = catalog.question_index(id).ok_or_else(|| Error::Unknown {
                what: "question",
                id: (*id).to_owned(),
            })?;
            if !questions.contains(&q) {
                questions.push(q);
            }
        }
        Ok(ProbeSetup { index, questions })
    }

    /// The setup's index (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The probe questions (catalog positions).
    pub fn questions(&self) -> &[usize] {
        &self.questions
    }

    /// The probe questions' ids.
    pub fn question_ids(&self, catalog: &Catalog) -> Vec<String> {
        self.questions
            .iter()
            .map(|&q| catalog.questions()[q].id().to_string())
            .collect()
    }

    /// Whether a question is probed in this setup.
    pub fn contains(&self, question: usize) -> bool {
        self.questions.contains(&question)
    }

    /// A membership mask over all questions of the catalog.
    pub fn mask(&self, questions: usize) -> Vec<bool> {
        let mut mask = vec![false; questions];
        for &q in &self.questions {
            mask[q] = true;
        }
        mask
    }
}
