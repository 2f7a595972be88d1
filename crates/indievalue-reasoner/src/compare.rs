//! A trained reasoner beside its base on the same tasks: Table 4's row, Table 19's inequity by
//! dimension, Figure 4's change per group.

use crate::Result;
use indievalue_catalog::{Catalog, Respondents};
use indievalue_metrics::{
    Bootstrap, Dimension, Evaluation, InequityIndex, Prediction, Table, plots,
};
use std::path::{Path, PathBuf};

/// One model measured on the polar and the refined evaluation tasks.
#[derive(Debug, Clone)]
pub struct ModelEvaluation {
    /// The model's label (`base`, `trained`, ...).
    pub label: String,
    /// On the polar tasks.
    pub polar: Evaluation,
    /// On the refined tasks.
    pub refined: Evaluation,
    /// The inequity index of each person's mean of their polar and refined accuracies
    /// (Table 19's).
    pub inequity: InequityIndex,
}

impl ModelEvaluation {
    /// Measures a model's predictions on the polar and the refined tasks of people in `people`
    /// (inequity over the paper's 16 dimensions, sample standard deviations).
    pub fn compute(
        catalog: &Catalog,
        people: &Respondents,
        label: impl Into<String>,
        polar: &[Prediction],
        refined: &[Prediction],
        bootstrap: &Bootstrap,
    ) -> Result<ModelEvaluation> {
        let polar = Evaluation::compute(catalog, people, polar, bootstrap, 1)?;
        let refined = Evaluation::compute(catalog, people, refined, bootstrap, 1)?;
        // A person's accuracy over both forms: the mean of the two (a person missing from one
        // form keeps the other's).
        let mut both: std::collections::BTreeMap<i64, (f64, usize)> = Default::default();
        for &(id, acc) in polar
            .report
            .per_person
            .iter()
            .chain(&refined.report.per_person)
        {
            let e = both.entry(id).or_insert((0.0, 0));
            e.0 += acc;
            e.1 += 1;
        }
        let per_person: Vec<(i64, f64)> = both
            .into_iter()
            .map(|(id, (sum, n))| (id, sum / n as f64))
            .collect();
        let inequity = InequityIndex::compute(
            catalog,
            people,
            &per_person,
            &Dimension::of_survey(catalog),
            1,
        )?;
        Ok(ModelEvaluation {
            label: label.into(),
            polar,
            refined,
            inequity,
        })
    }

    /// Table 4's "all": the mean of the polar and the refined setup averages.
    pub fn all_average(&self) -> f64 {
        (self.polar.report.setup_average() + self.refined.report.setup_average()) / 2.0
    }
}

/// Table 4's rows: per model, each setup's accuracy and their average on polar and on refined
/// tasks, and the mean of the two averages.
pub fn table4(models: &[ModelEvaluation], setups: usize) -> Table {
    let mut headers = vec!["Model".to_owned()];
    for g in ["Polar", "Refined"] {
        headers.extend((1..=setups).map(|s| format!("{g} S{s}")));
        headers.push(format!("{g} avg"));
    }
    headers.push("All".to_owned());
    let mut t = Table::new(headers);
    for m in models {
        let mut row = vec![m.label.clone()];
        for e in [&m.polar, &m.refined] {
            row.extend((0..setups).map(|s| {
                e.report
                    .per_setup
                    .get(&s)
                    .map_or("-".to_owned(), |a| format!("{a:.2}"))
            }));
            row.push(format!("{:.2}", e.report.setup_average()));
        }
        row.push(format!("{:.2}", m.all_average()));
        t.push(row);
    }
    t
}

/// Table 19's rows: the standard deviation of group accuracies per dimension (percentage
/// points) of each model, each person's mean of polar and refined, and the index (their mean).
pub fn table19(models: &[ModelEvaluation]) -> Table {
    let mut headers = vec!["Dimension".to_owned()];
    headers.extend(models.iter().map(|m| m.label.clone()));
    let mut t = Table::new(headers);
    let Some(first) = models.first() else {
        return t;
    };
    for (i, row) in first.inequity.rows.iter().enumerate() {
        let mut cells = vec![row.dimension.clone()];
        cells.extend(models.iter().map(|m| {
            m.inequity
                .rows
                .get(i)
                .and_then(|r| r.sd)
                .map_or("-".to_owned(), |s| format!("{s:.2}"))
        }));
        t.push(cells);
    }
    let mut last = vec!["sigma-INEQUITY".to_owned()];
    last.extend(models.iter().map(|m| format!("{:.2}", m.inequity.index)));
    t.push(last);
    t
}

/// Figure 4: for every dimension, the change of `after`'s accuracy over `before`'s in each
/// group (percentage points, people's mean of polar and refined), one bar plot per dimension in `dir`
/// (`figure4-DIMENSION.png` and `.svg`). Groups either model lacks are left out.
pub fn group_change_plots(
    dir: &Path,
    before: &ModelEvaluation,
    after: &ModelEvaluation,
) -> Result<Vec<PathBuf>> {
    indievalue_files::create_dir_all(dir)?;
    let mut written = Vec::new();
    for row in &after.inequity.rows {
        let Some(base) = before.inequity.groups(&row.dimension) else {
            continue;
        };
        let changes: Vec<(String, f64)> = row
            .groups
            .iter()
            .filter_map(|g| {
                let b = base.iter().find(|(name, _)| *name == g.group)?;
                Some((g.group.clone(), g.accuracy - b.1))
            })
            .collect();
        if changes.is_empty() {
            continue;
        }
        let slug = indievalue_metrics::plots::file_slug(&row.dimension);
        let title = format!(
            "{}: {} over {} (points)",
            row.dimension, after.label, before.label
        );
        written.extend(plots::group_change(
            dir.join(format!("figure4-{slug}")),
            &title,
            &changes,
        )?);
    }
    Ok(written)
}
