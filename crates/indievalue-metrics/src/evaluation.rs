//! A reasoner's predictions measured once: accuracy with its bootstrap interval, and the Value
//! Inequity Index overall and per setup.

use crate::{AccuracyReport, Bootstrap, Dimension, InequityIndex, Prediction, Result, SetupRow};
use indievalue_catalog::{Catalog, Respondents};
use std::collections::BTreeMap;

/// What Table 4 and Table 16 report of one reasoner.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Accuracy per person, setup, category and overall.
    pub report: AccuracyReport,
    /// The inequity index over the paper's 16 dimensions, all setups together.
    pub inequity: InequityIndex,
    /// The index of each setup's predictions on their own.
    pub inequity_per_setup: BTreeMap<usize, f64>,
}

impl Evaluation {
    /// Measures `predictions` of people in `people` over the survey's dimensions ([`Dimension::of_survey`]), with `ddof`
    /// degrees of freedom removed in the standard deviations.
    pub fn compute(
        catalog: &Catalog,
        people: &Respondents,
        predictions: &[Prediction],
        bootstrap: &Bootstrap,
        ddof: usize,
    ) -> Result<Evaluation> {
        let dims = Dimension::of_survey(catalog);
        let report = AccuracyReport::compute(catalog, predictions, bootstrap)?;
        let inequity = InequityIndex::compute(catalog, people, &report.per_person, &dims, ddof)?;
        let inequity_per_setup =
            InequityIndex::per_setup(catalog, people, predictions, &dims, ddof)?;
        Ok(Evaluation {
            report,
            inequity,
            inequity_per_setup,
        })
    }

    /// The Table 4 row of this reasoner (accuracies, interval, inequity).
    pub fn row(&self, label: impl Into<String>) -> SetupRow {
        SetupRow::measured(label, &self.report).with_inequity(self.inequity.index)
    }
}
