//! Demonstrations: which of a person's own answers are shown to a reasoner.

use crate::{AnswerMatrix, Error, Result};
use indievalue_catalog::Granularity;
use indievalue_catalog::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many demonstrations to show.
///
/// ```
/// use indievalue_sampling::DemoMode;
/// assert_eq!(DemoMode::parse("200").unwrap(), DemoMode::Fixed(200));
/// assert_eq!(DemoMode::parse("mixed").unwrap(), DemoMode::Mixed { min: 50, max: 200 });
/// assert_eq!(DemoMode::parse("demographics").unwrap(), DemoMode::DemographicsOnly);
/// assert_eq!(DemoMode::Mixed { min: 50, max: 200 }.to_string(), "mixed");
/// assert!(DemoMode::parse("lots").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoMode {
    /// Exactly `d` (or all the person has, if fewer).
    Fixed(usize),
    /// `d` uniform in `min..=max`, drawn per task.
    Mixed {
        /// Smallest d.
        min: usize,
        /// Largest d.
        max: usize,
    },
    /// No value statements, only the person's demographic statements.
    DemographicsOnly,
}

impl DemoMode {
    /// Parses `"200"` (any number), `"mixed"` (50..=200), `"mixed:A-B"` or `"demographics"`.
    pub fn parse(text: &str) -> Result<DemoMode> {
        let bad = || Error::Infeasible(format!("unknown demonstration mode {text:?}"));
        match text {
            "mixed" => Ok(DemoMode::Mixed { min: 50, max: 200 }),
            "demographics" | "demographics-only" => Ok(DemoMode::DemographicsOnly),
            t if t.starts_with("mixed:") => {
                let (a, b) = t[6..].split_once('-').ok_or_else(bad)?;
                let (min, max) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if min > max {
                    return Err(bad());
                }
                Ok(DemoMode::Mixed { min, max })
            }
            t => t.parse().map(DemoMode::Fixed).map_err(|_| bad()),
        }
    }
}

impl std::str::FromStr for DemoMode {
    type Err = Error;

    /// As [`DemoMode::parse`].
    fn from_str(s: &str) -> Result<DemoMode> {
        DemoMode::parse(s)
    }
}

impl fmt::Display for DemoMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoMode::Fixed(d) => write!(f, "{d}"),
            DemoMode::Mixed { min: 50, max: 200 } => f.write_str("mixed"),
            DemoMode::Mixed { min, max } => write!(f, "mixed:{min}-{max}"),
            DemoMode::DemographicsOnly => f.write_str("demographics"),
        }
    }
}

/// What a task shows of a person: how many value statements, in which form, and whether the
/// person's demographic statements come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoSpec {
    /// How many demonstrations.
    pub mode: DemoMode,
    /// Statement form of the demonstrations.
    pub granularity: Granularity,
    /// Prepend the person's valid demographic statements.
    pub demographics: bool,
}

/// A sample of a person's valid answers, without replacement, in sampled order.
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents};
/// # use indievalue_testdata::mini_catalog_dir;
/// # let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// # let q = catalog.questions().len();
/// # let people = Respondents::from_raw(&catalog, vec![1], vec![vec![1]; q],
/// #     vec![vec![1]; catalog.demographics().len()]).unwrap();
/// use indievalue_sampling::{AnswerMatrix, DemoMode, Demonstrations};
/// let m = AnswerMatrix::new(&people);
/// let excluded = vec![false; q];
/// let d = Demonstrations::sample(&m, 0, &excluded, DemoMode::Fixed(10), Granularity::Polar,
///     &mut indievalue_catalog::rng::Rng::new(3));
/// assert_eq!(d.items.len(), 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demonstrations {
    /// `(question position, statement index)` pairs.
    pub items: Vec<(u16, u8)>,
    /// The number asked for (before capping at what the person has).
    pub requested: usize,
}

impl Demonstrations {
    /// Samples from person `row`'s valid answers outside `excluded`, with `rng` (derive it from the
    /// seed and the ids involved so the sample depends on nothing else).
    pub fn sample(
        answers: &AnswerMatrix,
        row: usize,
        excluded: &[bool],
        mode: DemoMode,
        granularity: Granularity,
        rng: &mut Rng,
    ) -> Demonstrations {
        let requested = match mode {
            DemoMode::Fixed(d) => d,
            DemoMode::Mixed { min, max } => rng.range_inclusive(min as u64, max as u64) as usize,
            DemoMode::DemographicsOnly => 0,
        };
        let values = answers.row(row, granularity);
        let mut pool: Vec<(u16, u8)> = values
            .iter()
            .enumerate()
            .filter(|&(q, &v)| v != indievalue_catalog::NO_ANSWER && !excluded[q])
            .map(|(q, &v)| (q as u16, v))
            .collect();
        let k = requested.min(pool.len());
        for i in 0..k {
            let j = i + rng.below((pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        Demonstrations {
            items: pool,
            requested,
        }
    }
}
