//! The Value Inequity Index (sigma-INEQUITY, §2.2, Table 16).

use crate::{AccuracyReport, Bootstrap, Error, Prediction, Result, Table};
use indievalue_catalog::{Catalog, Respondents};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One demographic dimension of the index: a demographic item, whose groups
/// ([`Demographic::groups`](indievalue_catalog::Demographic::groups)) are the dimension's groups
/// (the WVS's continents: the country code list grouped by continent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    /// Display name.
    pub name: String,
    /// The demographic item's id.
    pub item: String,
}

impl Dimension {
    /// The survey's dimensions (`[inequity] dimensions` of `survey.toml`; on the WVS the 16 of
    /// Table 16).
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let d = indievalue_metrics::Dimension::of_survey(&catalog);
    /// assert_eq!(d.len(), 16);
    /// assert_eq!(d[1].name, "Continent");
    /// ```
    pub fn of_survey(catalog: &Catalog) -> Vec<Dimension> {
        catalog
            .survey()
            .inequity
            .iter()
            .map(|d| Dimension {
                name: d.name.clone(),
                item: d.item.clone(),
            })
            .collect()
    }
}

/// The accuracy of one demographic group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAccuracy {
    /// The group's label.
    pub group: String,
    /// People in the group.
    pub people: usize,
    /// Mean accuracy of its people (percent).
    pub accuracy: f64,
}

/// One dimension of the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InequityRow {
    /// The dimension's name.
    pub dimension: String,
    /// Its groups, in option order.
    pub groups: Vec<GroupAccuracy>,
    /// Standard deviation of the group accuracies (percentage points); `None` with too few
    /// groups for the ddof.
    pub sd: Option<f64>,
}

/// The Value Inequity Index: per dimension, the standard deviation of the group accuracies, then
/// the mean over dimensions. Lower is fairer. People with no valid answer for a dimension are left
/// out of it; dimensions with no more groups than `ddof` are left out of the mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InequityIndex {
    /// The index (percentage points).
    pub index: f64,
    /// Delta degrees of freedom of the standard deviations (1: the sample standard deviation,
    /// as the authors computed it).
    pub ddof: usize,
    /// Every dimension.
    pub rows: Vec<InequityRow>,
}

impl InequityIndex {
    /// The accuracy of each group of `dimension` (by its name, such as `"Continent"`), in the
    /// dimension's order.
    pub fn groups(&self, dimension: &str) -> Option<Vec<(String, f64)>> {
        let row = self.rows.iter().find(|r| r.dimension == dimension)?;
        Some(
            row.groups
                .iter()
                .map(|g| (g.group.clone(), g.accuracy))
                .collect(),
        )
    }

    /// The index of each setup's predictions on their own (setup index to index), as Table 16
    /// reports it per setup.
    pub fn per_setup(
        catalog: &Catalog,
        people: &Respondents,
        predictions: &[Prediction],
        dimensions: &[Dimension],
        ddof: usize,
    ) -> Result<BTreeMap<usize, f64>> {
        let mut by_setup: BTreeMap<usize, Vec<Prediction>> = BTreeMap::new();
        for p in predictions {
            by_setup.entry(p.setup).or_default().push(p.clone());
        }
        let no_interval = Bootstrap {
            samples: 0,
            ..Bootstrap::default()
        };
        by_setup
            .into_iter()
            .map(|(setup, only)| {
                let report = AccuracyReport::compute(catalog, &only, &no_interval)?;
                let index =
                    InequityIndex::compute(catalog, people, &report.per_person, dimensions, ddof)?;
                Ok((setup, index.index))
            })
            .collect()
    }

    /// [`InequityIndex::compute`] over the survey's dimensions ([`Dimension::of_survey`]).
    pub fn of_survey(
        catalog: &Catalog,
        people: &Respondents,
        per_person: &[(i64, f64)],
        ddof: usize,
    ) -> Result<InequityIndex> {
        InequityIndex::compute(
            catalog,
            people,
            per_person,
            &Dimension::of_survey(catalog),
            ddof,
        )
    }

    /// Computes the index from per-person accuracies (`(person id, percent)`), looking the
    /// people up in `people`.
    pub fn compute(
        catalog: &Catalog,
        people: &Respondents,
        per_person: &[(i64, f64)],
        dimensions: &[Dimension],
        ddof: usize,
    ) -> Result<InequityIndex> {
        let index = people.row_lookup();
        let rows_of: Vec<(usize, f64)> = per_person
            .iter()
            .map(|&(id, acc)| {
                index
                    .row(id)
                    .map(|r| (r, acc))
                    .ok_or_else(|| Error::Invalid(format!("person {id} is not in the data")))
            })
            .collect::<Result<_>>()?;
        let mut rows = Vec::with_capacity(dimensions.len());
        for dim in dimensions {
            let d = catalog
                .demographic_index(&dim.item)
                .ok_or_else(|| Error::Invalid(format!("unknown demographic item {}", dim.item)))?;
            let labels = catalog.demographics()[d].groups();
            // group (sort order) -> (label, sum, count)
            let mut groups: BTreeMap<usize, (String, f64, usize)> = BTreeMap::new();
            for &(r, acc) in &rows_of {
                let key = people
                    .group_of(catalog, d, r)
                    .map(|g| (g, labels[g].clone()));
                if let Some((k, label)) = key {
                    let g = groups.entry(k).or_insert((label, 0.0, 0));
                    g.1 += acc;
                    g.2 += 1;
                }
            }
            let groups: Vec<GroupAccuracy> = groups
                .into_values()
                .map(|(group, sum, n)| GroupAccuracy {
                    group,
                    people: n,
                    accuracy: sum / n as f64,
                })
                .collect();
            let accs: Vec<f64> = groups.iter().map(|g| g.accuracy).collect();
            rows.push(InequityRow {
                dimension: dim.name.clone(),
                sd: standard_deviation(&accs, ddof),
                groups,
            });
        }
        let sds: Vec<f64> = rows.iter().filter_map(|r| r.sd).collect();
        let index = if sds.is_empty() {
            f64::NAN
        } else {
            sds.iter().sum::<f64>() / sds.len() as f64
        };
        Ok(InequityIndex { index, ddof, rows })
    }

    /// The per-dimension table: dimension, groups, standard deviation.
    pub fn table(&self) -> Table {
        let mut t = Table::new(["Dimension", "Groups", "People", "SD (pp)"]);
        for row in &self.rows {
            t.push([
                row.dimension.clone(),
                row.groups.len().to_string(),
                row.groups
                    .iter()
                    .map(|g| g.people)
                    .sum::<usize>()
                    .to_string(),
                row.sd.map_or("-".into(), |s| format!("{s:.2}")),
            ]);
        }
        t.push([
            "sigma-INEQUITY (mean)".to_owned(),
            String::new(),
            String::new(),
            format!("{:.2}", self.index),
        ]);
        t
    }
}

/// Standard deviation with `ddof` delta degrees of freedom; `None` when `n <= ddof`.
pub(crate) fn standard_deviation(values: &[f64], ddof: usize) -> Option<f64> {
    let n = values.len();
    if n <= ddof {
        return None;
    }
    let m = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    Some((ss / (n - ddof) as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::standard_deviation;

    #[test]
    fn standard_deviation_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squares sum 32; population sd 2, sample sd sqrt(32/7).
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(standard_deviation(&v, 0), Some(2.0));
        assert!((standard_deviation(&v, 1).unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(standard_deviation(&[3.0], 1), None);
        assert_eq!(standard_deviation(&[3.0], 0), Some(0.0));
    }
}
