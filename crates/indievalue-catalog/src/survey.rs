//! What a survey's metadata does not say: the optional `survey.toml` of a survey description,
//! or, for a directory without one, the World Values Survey with the paper's rules.
//!
//! A *survey description* is a directory with the authors' three metadata files and, for any
//! survey but the WVS, a `survey.toml` (every key documented in `docs/formats.md`):
//!
//! ```toml
//! name = "GSS 2018 national spending"
//! id_column = "id"
//! [probes]
//! setups = 3
//! per_category = 1
//! [evaluation]
//! people = 300
//! balance_by = "partyid"
//! [inequity]
//! dimensions = ["sex", "partyid"]
//! ```
//!
//! Unknown keys are errors naming the file and the key's dotted path; values are checked
//! against the metadata when the catalog loads ([`Catalog::load`](crate::Catalog::load)).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of a survey description's settings.
pub const SURVEY_FILE: &str = "survey.toml";
/// The WVS's respondent id column.
pub const WVS_ID_COLUMN: &str = "D_INTERVIEW";
/// Id of the WVS demographic item that maps a country code to its continent (the WVS's balance
/// item).
pub const CONTINENT_ITEM: &str = "B_COUNTRY_to_continent";
/// Id of the WVS demographic item naming the country of the interview.
pub const COUNTRY_ITEM: &str = "B_COUNTRY";

/// How probe setups are drawn (Table 13's rule, generalised): group the questions by category
/// in metadata order; setup `p` takes, in every category, the questions at positions
/// `per_category * p + i` (`i < per_category`) modulo the category's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeRule {
    /// Number of probe setups.
    pub setups: usize,
    /// Probe questions per category and setup.
    pub per_category: usize,
}

/// How the evaluation set is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRule {
    /// Size of the evaluation set (the examples' default `--eval-people`).
    pub people: usize,
    /// The demographic item whose groups share the evaluation set equally; `None`: one group.
    pub balance_by: Option<String>,
    /// Demonstrations per task (the examples' default `--demos`); `None`: the paper's share,
    /// 200 of 214 non-probe questions, of the survey's smallest setup remainder.
    pub demonstrations: Option<usize>,
    /// Valid demographic answers an evaluation person needs at least.
    pub min_demographics: usize,
}

/// One dimension of the Value Inequity Index: a demographic item and its display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InequityDimension {
    /// Display name (Table 16's on the WVS; the item's label otherwise).
    pub name: String,
    /// The demographic item's id.
    pub item: String,
}

/// A survey's settings: `survey.toml`, or the WVS's (see [`SurveySettings::wvs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveySettings {
    /// The survey's name, shown in report headers.
    pub name: String,
    /// The respondent id column of the survey's CSV (and of the converted Parquet file).
    pub id_column: String,
    /// Probe setups.
    pub probes: ProbeRule,
    /// The evaluation set.
    pub evaluation: EvaluationRule,
    /// The inequity dimensions, in report order.
    pub inequity: Vec<InequityDimension>,
    /// Shorter category names for figures, by full name.
    pub short_names: BTreeMap<String, String>,
    /// `true` when the settings come from a `survey.toml` (a described survey); `false` for
    /// the WVS with the paper's rules.
    pub described: bool,
}

/// Table 16's dimensions: (display name, item id).
const WVS_DIMENSIONS: [(&str, &str); 16] = [
    ("Country", COUNTRY_ITEM),
    ("Continent", CONTINENT_ITEM),
    ("Sex", "Q260"),
    ("Age", "X003R"),
    ("Immigration status", "Q263"),
    ("Birth country", "Q266"),
    ("Citizenship", "Q269"),
    ("Marital status", "Q273"),
    ("Education", "Q275"),
    ("Employment status", "Q279"),
    ("Occupation", "Q281"),
    ("Employment sector", "Q284"),
    ("Family saving", "Q286"),
    ("Social class", "Q287"),
    ("Income", "Q288R"),
    ("Religion", "Q289"),
];

impl SurveySettings {
    /// The World Values Survey with the paper's rules: `D_INTERVIEW` ids, Table 13's three
    /// setups of three questions per category, the 800-person evaluation set balanced by
    /// continent (the sampling crate adds Oceania whole and the religion caps), Table 16's
    /// dimensions and Figure 2's short category names.
    ///
    /// ```
    /// let wvs = indievalue_catalog::SurveySettings::wvs();
    /// assert_eq!((wvs.probes.setups, wvs.probes.per_category), (3, 3));
    /// assert_eq!(wvs.inequity.len(), 16);
    /// assert!(!wvs.described);
    /// ```
    pub fn wvs() -> SurveySettings {
        SurveySettings {
            name: "World Values Survey Wave 7".into(),
            id_column: WVS_ID_COLUMN.into(),
            probes: ProbeRule {
                setups: 3,
                per_category: 3,
            },
            evaluation: EvaluationRule {
                people: 800,
                balance_by: Some(CONTINENT_ITEM.into()),
                demonstrations: Some(200),
                min_demographics: 24,
            },
            inequity: WVS_DIMENSIONS
                .iter()
                .map(|&(name, item)| InequityDimension {
                    name: name.into(),
                    item: item.into(),
                })
                .collect(),
            short_names: crate::category::WVS_SHORT_NAMES
                .iter()
                .map(|&(long, short)| (long.to_owned(), short.to_owned()))
                .collect(),
            described: false,
        }
    }
}

/// Every key `survey.toml` knows, by table (`""` is the top level).
const KNOWN_KEYS: [(&str, &[&str]); 5] = [
    (
        "",
        &[
            "name",
            "id_column",
            "probes",
            "evaluation",
            "inequity",
            "categories",
        ],
    ),
    ("probes", &["setups", "per_category"]),
    (
        "evaluation",
        &["people", "balance_by", "demonstrations", "min_demographics"],
    ),
    ("inequity", &["dimensions"]),
    ("categories", &["short_names"]),
];

#[derive(Deserialize)]
struct RawSurvey {
    name: Option<String>,
    id_column: String,
    #[serde(default)]
    probes: RawProbes,
    #[serde(default)]
    evaluation: RawEvaluation,
    inequity: Option<RawInequity>,
    #[serde(default)]
    categories: RawCategories,
}

#[derive(Deserialize)]
struct RawProbes {
    #[serde(default = "three")]
    setups: usize,
    #[serde(default = "one")]
    per_category: usize,
}

impl Default for RawProbes {
    fn default() -> Self {
        RawProbes {
            setups: 3,
            per_category: 1,
        }
    }
}

fn three() -> usize {
    3
}
fn one() -> usize {
    1
}
fn three_hundred() -> usize {
    300
}

#[derive(Deserialize)]
struct RawEvaluation {
    #[serde(default = "three_hundred")]
    people: usize,
    balance_by: Option<String>,
    demonstrations: Option<usize>,
    #[serde(default)]
    min_demographics: usize,
}

impl Default for RawEvaluation {
    fn default() -> Self {
        RawEvaluation {
            people: 300,
            balance_by: None,
            demonstrations: None,
            min_demographics: 0,
        }
    }
}

#[derive(Deserialize)]
struct RawInequity {
    #[serde(default)]
    dimensions: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawCategories {
    #[serde(default)]
    short_names: BTreeMap<String, String>,
}

/// The line of a TOML error, for messages.
fn toml_line(text: &str, e: &toml::de::Error) -> usize {
    e.span().map_or(1, |s| {
        text[..s.start.min(text.len())].lines().count().max(1)
    })
}

/// Checks every key of `table` against [`KNOWN_KEYS`]; an unknown one is an error naming its
/// dotted path.
fn check_keys(path: &Path, table: &toml::Table) -> Result<()> {
    for (section, known) in KNOWN_KEYS {
        let (t, prefix) = if section.is_empty() {
            (Some(table), String::new())
        } else {
            (
                table.get(section).and_then(toml::Value::as_table),
                format!("{section}."),
            )
        };
        let Some(t) = t else { continue };
        for key in t.keys() {
            if !known.contains(&key.as_str()) {
                return Err(Error::Survey {
                    path: path.to_owned(),
                    key: format!("{prefix}{key}"),
                    message: format!("unknown key (known here: {})", known.join(", ")),
                });
            }
        }
    }
    Ok(())
}

/// Reads `survey.toml`: syntax, known keys, types. Values are checked against the metadata by
/// the catalog; `default_name` names a survey whose file has no `name`. The inequity
/// dimensions come back apart (`None`: no `[inequity]` table, so every demographic item): their
/// display names are the items' labels, which the catalog fills in.
pub(crate) fn read_survey_file(
    path: &Path,
    default_name: &str,
) -> Result<(SurveySettings, Option<Vec<String>>)> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let syntax = |e: toml::de::Error| Error::Survey {
        path: path.to_owned(),
        key: format!("line {}", toml_line(&text, &e)),
        message: e.message().to_owned(),
    };
    let table: toml::Table = text.parse().map_err(syntax)?;
    check_keys(path, &table)?;
    let raw: RawSurvey = toml::from_str(&text).map_err(syntax)?;
    let dimensions = raw.inequity.map(|i| i.dimensions);
    let settings = SurveySettings {
        name: raw.name.unwrap_or_else(|| default_name.to_owned()),
        id_column: raw.id_column,
        probes: ProbeRule {
            setups: raw.probes.setups,
            per_category: raw.probes.per_category,
        },
        evaluation: EvaluationRule {
            people: raw.evaluation.people,
            balance_by: raw.evaluation.balance_by,
            demonstrations: raw.evaluation.demonstrations,
            min_demographics: raw.evaluation.min_demographics,
        },
        inequity: Vec::new(),
        short_names: raw.categories.short_names,
        described: true,
    };
    Ok((settings, dimensions))
}
