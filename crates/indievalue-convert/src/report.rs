//! Table 1's conversion figures ([`ConversionReport`]), counted from a converted table.

use indievalue_catalog::{Catalog, Respondents};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Format tag of the report.
pub const REPORT_FORMAT: &str = "indievalue-conversion-report/1";

/// Invalid raw codes met in one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidCodes {
    /// The question id.
    pub question: String,
    /// People (after deduplication) whose answer was no valid answer.
    pub total: u64,
    /// Count per raw code.
    pub codes: BTreeMap<i32, u64>,
}

/// Table 1's conversion figures and everything else the converter counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionReport {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// The input file.
    pub source: String,
    /// Content hash of the catalog used.
    pub catalog_hash: String,
    /// Crate and version that converted the file.
    pub written_by: String,
    /// Data rows read (before deduplication, without a dropped truncated last line).
    pub rows_read: u64,
    /// People kept.
    pub people: u64,
    /// Rows dropped because their `D_INTERVIEW` was seen before.
    pub duplicates_dropped: u64,
    /// The line number of a truncated last line that was dropped, if any.
    pub truncated_last_line: Option<u64>,
    /// The input does not end with a line end. Its last row was complete in field count, but it
    /// may have been cut inside its last field: check the source file.
    pub last_line_unterminated: bool,
    /// Valid value answers over all people.
    pub valid_answers: u64,
    /// Mean valid value answers per person.
    pub valid_per_person_mean: f64,
    /// Population standard deviation of valid value answers per person.
    pub valid_per_person_sd: f64,
    /// People with a valid answer to every question of the catalog (253 for the authors').
    pub people_all_253: u64,
    /// Number of value questions in the catalog.
    pub questions: usize,
    /// Mean valid demographic answers per person.
    pub valid_demographics_mean: f64,
    /// The survey's balance item (the WVS: `B_COUNTRY_to_continent`), if it has one.
    pub balance_by: Option<String>,
    /// People per group of the balance item (the WVS: per continent), by name; people without
    /// a valid answer are under `"unknown"`.
    pub per_group: BTreeMap<String, u64>,
    /// Invalid codes per question, catalog order.
    pub invalid_codes: Vec<InvalidCodes>,
    /// Invalid codes per demographic item (codes its description does not map), catalog order.
    pub invalid_demographic_codes: Vec<InvalidCodes>,
}

/// Counts the report's figures from a converted table.
pub(crate) fn report(
    catalog: &Catalog,
    people: &Respondents,
    path: &Path,
    rows_read: u64,
    duplicates_dropped: u64,
    truncated_last_line: Option<u64>,
) -> ConversionReport {
    let n = people.len();
    let (valid, invalid_codes) = count_answers(catalog, people);
    let valid_answers: u64 = valid.iter().map(|&v| u64::from(v)).sum();
    let mean = if n > 0 {
        valid_answers as f64 / n as f64
    } else {
        0.0
    };
    let sd = if n > 0 {
        (valid
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt()
    } else {
        0.0
    };
    let nq = catalog.questions().len() as u32;
    let people_all = valid.iter().filter(|&&v| v == nq).count() as u64;
    let mut demo_valid = 0u64;
    for d in people.demographics() {
        demo_valid += d
            .option
            .iter()
            .filter(|&&o| o != indievalue_catalog::NO_OPTION)
            .count() as u64;
    }
    let balance = catalog
        .survey()
        .evaluation
        .balance_by
        .as_deref()
        .and_then(|id| catalog.demographic_index(id));
    ConversionReport {
        format: REPORT_FORMAT.into(),
        source: path.display().to_string(),
        catalog_hash: catalog.content_hash().to_owned(),
        written_by: format!("indievalue-convert {}", env!("CARGO_PKG_VERSION")),
        rows_read,
        people: n as u64,
        duplicates_dropped,
        truncated_last_line,
        last_line_unterminated: false,
        valid_answers,
        valid_per_person_mean: mean,
        valid_per_person_sd: sd,
        people_all_253: people_all,
        questions: catalog.questions().len(),
        valid_demographics_mean: if n > 0 {
            demo_valid as f64 / n as f64
        } else {
            0.0
        },
        balance_by: balance.map(|d| catalog.demographics()[d].id().to_owned()),
        per_group: balance.map_or_else(BTreeMap::new, |d| per_group(catalog, people, d)),
        invalid_codes,
        invalid_demographic_codes: catalog
            .demographics()
            .iter()
            .zip(people.demographics())
            .map(|(d, answers)| {
                invalid(
                    d.id(),
                    answers
                        .option
                        .iter()
                        .zip(&answers.raw)
                        .filter(|&(&o, _)| o == indievalue_catalog::NO_OPTION)
                        .map(|(_, &raw)| raw),
                )
            })
            .collect(),
    }
}

/// Valid value answers per person, and the invalid raw codes per question.
fn count_answers(catalog: &Catalog, people: &Respondents) -> (Vec<u32>, Vec<InvalidCodes>) {
    let n = people.len();
    let mut valid = vec![0u32; n];
    let mut invalid_codes = Vec::with_capacity(catalog.questions().len());
    for (q, answers) in catalog.questions().iter().zip(people.questions()) {
        for (p, &statement) in answers.polar.iter().enumerate() {
            if statement != indievalue_catalog::NO_ANSWER {
                valid[p] += 1;
            }
        }
        invalid_codes.push(invalid(
            q.id().as_str(),
            answers
                .polar
                .iter()
                .zip(&answers.raw)
                .filter(|&(&s, _)| s == indievalue_catalog::NO_ANSWER)
                .map(|(_, &raw)| raw),
        ));
    }
    (valid, invalid_codes)
}

/// The invalid codes of one item, counted.
fn invalid(item: &str, raw: impl Iterator<Item = i32>) -> InvalidCodes {
    let mut codes: BTreeMap<i32, u64> = BTreeMap::new();
    let mut total = 0;
    for code in raw {
        *codes.entry(code).or_default() += 1;
        total += 1;
    }
    InvalidCodes {
        question: item.to_owned(),
        total,
        codes,
    }
}

/// People per group of the balance item `item` (`"unknown"` without a valid answer).
fn per_group(catalog: &Catalog, people: &Respondents, item: usize) -> BTreeMap<String, u64> {
    let groups = catalog.demographics()[item].groups();
    let mut per_group: BTreeMap<String, u64> = BTreeMap::new();
    for p in 0..people.len() {
        let name = people
            .group_of(catalog, item, p)
            .map_or("unknown", |g| groups[g].as_str());
        *per_group.entry(name.to_owned()).or_default() += 1;
    }
    per_group
}
