//! Table 4 style summaries: accuracy per probe setup, their average, and optional interval and
//! inequity columns, for any set of reasoners.

use crate::{AccuracyReport, Table};

/// The mean of per-setup accuracies: Table 4's "avg" column (NaN for no setups).
///
/// ```
/// assert_eq!(indievalue_metrics::setup_average(&[50.0, 60.0, 70.0]), 60.0);
/// ```
pub fn setup_average<'a>(per_setup: impl IntoIterator<Item = &'a f64>) -> f64 {
    let (sum, n) = per_setup
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// How a row's accuracies were obtained, for the interval column.
#[derive(Debug, Clone, PartialEq)]
pub enum RowInterval {
    /// Computed exactly (random choice, a Bayes ceiling): no sampling error.
    Exact,
    /// Measured on people, with a bootstrap interval over them.
    Bootstrap(f64, f64),
    /// Nothing to show.
    None,
}

/// One reasoner's row.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupRow {
    /// The reasoner's label.
    pub reasoner: String,
    /// Accuracy (percent) per setup, in setup order.
    pub per_setup: Vec<f64>,
    /// The interval column.
    pub interval: RowInterval,
    /// The Value Inequity Index, when computed.
    pub inequity: Option<f64>,
}

impl SetupRow {
    /// A row of exactly computed accuracies.
    pub fn exact(reasoner: impl Into<String>, per_setup: Vec<f64>) -> SetupRow {
        SetupRow {
            reasoner: reasoner.into(),
            per_setup,
            interval: RowInterval::Exact,
            inequity: None,
        }
    }

    /// A row measured on people: the report's per-setup accuracies and bootstrap interval.
    pub fn measured(reasoner: impl Into<String>, report: &AccuracyReport) -> SetupRow {
        SetupRow {
            reasoner: reasoner.into(),
            per_setup: report.per_setup.values().copied().collect(),
            interval: RowInterval::Bootstrap(report.ci_low, report.ci_high),
            inequity: None,
        }
    }

    /// The same row with its inequity index.
    pub fn with_inequity(mut self, index: f64) -> SetupRow {
        self.inequity = Some(index);
        self
    }

    /// The average over setups.
    pub fn average(&self) -> f64 {
        setup_average(&self.per_setup)
    }
}

/// Optional columns of a [`setup_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupColumn {
    /// `95% CI (people)`: `low-high`, or `exact`.
    Interval,
    /// `sigma-INEQUITY`.
    Inequity,
}

/// Table 4's layout: `first` (the reasoner column's name), `setup 1..n`, `avg`, then the
/// `extra` columns; values with two decimals, `-` where a row has none.
///
/// ```
/// use indievalue_metrics::{SetupColumn, SetupRow, setup_table};
/// let rows = [SetupRow::exact("Random", vec![40.0, 41.0]).with_inequity(0.0)];
/// let t = setup_table("Baseline", 2, &rows, &[SetupColumn::Interval, SetupColumn::Inequity]);
/// assert_eq!(t.to_csv(), "Baseline,setup 1,setup 2,avg,95% CI (people),sigma-INEQUITY\nRandom,40.00,41.00,40.50,exact,0.00\n");
/// ```
pub fn setup_table(first: &str, setups: usize, rows: &[SetupRow], extra: &[SetupColumn]) -> Table {
    let mut headers = vec![first.to_owned()];
    headers.extend((1..=setups).map(|s| format!("setup {s}")));
    headers.push("avg".to_owned());
    for c in extra {
        headers.push(
            match c {
                SetupColumn::Interval => "95% CI (people)",
                SetupColumn::Inequity => "sigma-INEQUITY",
            }
            .to_owned(),
        );
    }
    let mut table = Table::new(headers);
    let fmt = |v: f64| format!("{v:.2}");
    for r in rows {
        let mut cells = vec![r.reasoner.clone()];
        cells.extend(r.per_setup.iter().map(|&v| fmt(v)));
        cells.push(fmt(r.average()));
        for c in extra {
            cells.push(match c {
                SetupColumn::Interval => match r.interval {
                    RowInterval::Exact => "exact".to_owned(),
                    RowInterval::Bootstrap(lo, hi) => format!("{lo:.2}-{hi:.2}"),
                    RowInterval::None => "-".to_owned(),
                },
                SetupColumn::Inequity => r.inequity.map_or("-".to_owned(), fmt),
            });
        }
        table.push(cells);
    }
    table
}
