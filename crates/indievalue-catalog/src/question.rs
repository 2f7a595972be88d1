//! Value questions, their statements per granularity, and raw-code lookup.

use crate::Category;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of a value question, as in the survey's column header (`Q1`, `Q288R`, `V12`, ...).
///
/// ```
/// use indievalue_catalog::QuestionId;
/// let id = QuestionId::new("Q131");
/// assert_eq!(id.as_str(), "Q131");
/// assert_eq!(id.to_string(), "Q131");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuestionId(String);

impl QuestionId {
    /// Wraps a question id.
    pub fn new(id: impl Into<String>) -> Self {
        QuestionId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QuestionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for QuestionId {
    fn from(s: &str) -> Self {
        QuestionId(s.to_owned())
    }
}

/// How finely a question's answers are told apart.
///
/// *Polar* statements group answers of the same polarity ("agree" for "agree strongly" and
/// "agree"); *refined* statements keep the survey's finer options.
///
/// ```
/// use indievalue_catalog::Granularity;
/// assert_eq!(Granularity::from_name("refined"), Some(Granularity::Refined));
/// assert_eq!(Granularity::Polar.name(), "polar");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// Polarity-grouped statements.
    Polar,
    /// Fine-grained statements.
    Refined,
}

impl Granularity {
    /// Both granularities, polar first.
    pub const ALL: [Granularity; 2] = [Granularity::Polar, Granularity::Refined];

    /// `"polar"` or `"refined"`.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Polar => "polar",
            Granularity::Refined => "refined",
        }
    }

    /// Parses `"polar"` or `"refined"`.
    pub fn from_name(name: &str) -> Option<Granularity> {
        match name {
            "polar" => Some(Granularity::Polar),
            "refined" => Some(Granularity::Refined),
            _ => None,
        }
    }
}

impl std::str::FromStr for Granularity {
    type Err = String;

    /// `polar` or `refined`.
    fn from_str(s: &str) -> Result<Granularity, String> {
        Granularity::from_name(s).ok_or_else(|| format!("{s:?}: expected polar or refined"))
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A map from raw survey codes to option indices, fast enough for the converter's inner loop.
///
/// Codes are stored densely between the smallest and largest known code when that range is
/// small, and as a sorted list otherwise.
///
/// ```
/// use indievalue_catalog::CodeMap;
/// let map = CodeMap::new(&[(1, 0), (2, 0), (3, 1), (4, 1)]);
/// assert_eq!(map.get(3), Some(1));
/// assert_eq!(map.get(-1), None);
/// assert_eq!(map.get(5), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeMap {
    /// (code, option) pairs sorted by code.
    pairs: Vec<(i32, u16)>,
    #[serde(skip)]
    dense: Option<(i32, Vec<u16>)>,
}

const DENSE_LIMIT: i64 = 4096;
const NONE16: u16 = u16::MAX;

impl CodeMap {
    /// Builds a map from `(raw code, option index)` pairs. Later duplicates of a code are ignored.
    pub fn new(pairs: &[(i32, u16)]) -> Self {
        let mut sorted: Vec<(i32, u16)> = Vec::with_capacity(pairs.len());
        for &(code, option) in pairs {
            if !sorted.iter().any(|&(c, _)| c == code) {
                sorted.push((code, option));
            }
        }
        sorted.sort_unstable();
        let dense = match (sorted.first(), sorted.last()) {
            (Some(&(lo, _)), Some(&(hi, _))) if i64::from(hi) - i64::from(lo) < DENSE_LIMIT => {
                let mut table = vec![NONE16; (hi - lo + 1) as usize];
                for &(code, option) in &sorted {
                    table[(code - lo) as usize] = option;
                }
                Some((lo, table))
            }
            _ => None,
        };
        CodeMap {
            pairs: sorted,
            dense,
        }
    }

    /// The option index of a raw code, or `None` when the code is not a valid answer.
    #[inline]
    pub fn get(&self, code: i64) -> Option<u16> {
        match &self.dense {
            Some((lo, table)) => {
                let offset = code.checked_sub(i64::from(*lo))?;
                if offset < 0 {
                    return None;
                }
                match table.get(usize::try_from(offset).ok()?) {
                    Some(&v) if v != NONE16 => Some(v),
                    _ => None,
                }
            }
            None => {
                let code = i32::try_from(code).ok()?;
                self.pairs
                    .binary_search_by_key(&code, |&(c, _)| c)
                    .ok()
                    .map(|i| self.pairs[i].1)
            }
        }
    }

    /// All `(code, option)` pairs, sorted by code.
    pub fn pairs(&self) -> &[(i32, u16)] {
        &self.pairs
    }

    /// The raw codes that map to `option`, ascending.
    pub fn codes_of(&self, option: u16) -> impl Iterator<Item = i32> + '_ {
        self.pairs
            .iter()
            .filter(move |&&(_, o)| o == option)
            .map(|&(c, _)| c)
    }
}

/// The statements of one question at one granularity, and which raw codes choose each.
///
/// ```
/// use indievalue_catalog::{CodeMap, StatementSet};
/// let set = StatementSet::new(
///     vec!["tea is important to me".into(), "tea is not important to me".into()],
///     CodeMap::new(&[(1, 0), (2, 0), (3, 1), (4, 1)]),
/// );
/// assert_eq!(set.len(), 2);
/// assert_eq!(set.statement_for_code(4), Some(1));
/// assert_eq!(set.statement(0), "tea is important to me");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementSet {
    statements: Vec<String>,
    codes: CodeMap,
}

impl StatementSet {
    /// Builds a set from its statements and code map (not validated; the loader validates).
    pub fn new(statements: Vec<String>, codes: CodeMap) -> Self {
        StatementSet { statements, codes }
    }

    /// Number of statements (options).
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when there is no statement.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// All statements, in option order.
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// The statement of option `index`. Panics when out of range, like slice indexing.
    pub fn statement(&self, index: usize) -> &str {
        &self.statements[index]
    }

    /// The option a raw code selects, `None` for codes that are no valid answer.
    #[inline]
    pub fn statement_for_code(&self, code: i64) -> Option<u8> {
        self.codes.get(code).map(|v| v as u8)
    }

    /// The raw-code map.
    pub fn code_map(&self) -> &CodeMap {
        &self.codes
    }
}

/// A value question with its statements in both granularities.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let q = &catalog.questions()[0];
/// assert!(q.statements(indievalue_catalog::Granularity::Refined).len()
///     >= q.statements(indievalue_catalog::Granularity::Polar).len());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub(crate) id: QuestionId,
    pub(crate) category: Category,
    pub(crate) question_type: String,
    pub(crate) text: String,
    pub(crate) polar: StatementSet,
    pub(crate) refined: StatementSet,
}

impl Question {
    /// The question id.
    pub fn id(&self) -> &QuestionId {
        &self.id
    }

    /// The question's category.
    pub fn category(&self) -> Category {
        self.category
    }

    /// The metadata's `question_type` (`mc_4`, `scale_10`, ...).
    pub fn question_type(&self) -> &str {
        &self.question_type
    }

    /// The survey's question text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statements at a granularity.
    pub fn statements(&self, granularity: Granularity) -> &StatementSet {
        match granularity {
            Granularity::Polar => &self.polar,
            Granularity::Refined => &self.refined,
        }
    }

    /// The raw codes that are valid answers, ascending (the same in both granularities).
    pub fn valid_codes(&self) -> impl Iterator<Item = i32> + '_ {
        self.refined.codes.pairs().iter().map(|&(c, _)| c)
    }
}
