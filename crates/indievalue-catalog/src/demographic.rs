//! Demographic items (the WVS's 31, or any a described survey has) and their
//! identity-declaring statements.

use crate::CodeMap;
use serde::{Deserialize, Serialize};

/// How a demographic item's raw codes turn into statements.
///
/// ```
/// use indievalue_catalog::{Catalog, DemographicKind};
/// use indievalue_testdata::mini_catalog_dir;
/// let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// assert_eq!(catalog.demographic("B_COUNTRY").unwrap().kind(), DemographicKind::CodeList);
/// assert_eq!(catalog.demographic("Q260").unwrap().kind(), DemographicKind::MultipleChoice);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DemographicKind {
    /// A fixed list of options, each with its statement (`answer_ids`, `converted_statements`).
    MultipleChoice,
    /// A list of codes with names filled into a statement template (`answer_vars_map`).
    CodeList,
}

/// One option of a demographic item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemographicOption {
    /// The short label (an answer variable or a code-list name such as a country).
    pub label: String,
    /// The full identity-declaring statement.
    pub statement: String,
}

/// A demographic item: which survey column it reads, and its options.
///
/// Options of code-list items are ordered by raw code; options of multiple-choice items keep the
/// metadata's order.
///
/// ```
/// use indievalue_catalog::{Catalog};
/// use indievalue_testdata::mini_catalog_dir;
/// let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// let continent = catalog.demographic("B_COUNTRY_to_continent").unwrap();
/// assert_eq!(continent.column(), "B_COUNTRY");
/// let option = continent.option_for_code(36).unwrap();
/// assert_eq!(continent.options()[option as usize].label, "Oceania");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographic {
    pub(crate) id: String,
    pub(crate) column: String,
    pub(crate) label: String,
    pub(crate) kind: DemographicKind,
    pub(crate) template: String,
    pub(crate) options: Vec<DemographicOption>,
    pub(crate) codes: CodeMap,
    /// Group labels (see [`Demographic::groups`]).
    #[serde(skip)]
    groups: Vec<String>,
    /// The group of each option.
    #[serde(skip)]
    group_of_option: Vec<u16>,
}

impl Demographic {
    pub(crate) fn new(
        id: String,
        column: String,
        label: String,
        kind: DemographicKind,
        template: String,
        options: Vec<DemographicOption>,
        codes: CodeMap,
    ) -> Demographic {
        let mut labels: Vec<&str> = Vec::new();
        for o in &options {
            if !labels.contains(&o.label.as_str()) {
                labels.push(&o.label);
            }
        }
        // Options sharing a label (a code list of countries mapped to continents) are one
        // group each; such groups are ordered by label, the others keep the option order.
        if labels.len() < options.len() {
            labels.sort_unstable();
        }
        let groups: Vec<String> = labels.into_iter().map(str::to_owned).collect();
        let group_of_option = options
            .iter()
            .map(|o| groups.iter().position(|g| *g == o.label).unwrap_or(0) as u16)
            .collect();
        Demographic {
            id,
            column,
            label,
            kind,
            template,
            options,
            codes,
            groups,
            group_of_option,
        }
    }

    /// The item's groups, for balancing the evaluation set and for inequity dimensions: one per
    /// distinct option label. Where labels are distinct (every multiple-choice item, a code list
    /// of countries) the groups are the options in their order; where several options share a
    /// label (the WVS's `B_COUNTRY_to_continent`, a country code list labelled by continent)
    /// they form one group, and the groups are ordered by label.
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let continent = catalog.demographic("B_COUNTRY_to_continent").unwrap();
    /// assert_eq!(continent.groups()[0], "Africa");
    /// let option = continent.option_for_code(36).unwrap();
    /// assert_eq!(continent.groups()[continent.group_of_option(option)], "Oceania");
    /// ```
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The group (position in [`Demographic::groups`]) of an option.
    pub fn group_of_option(&self, option: u16) -> usize {
        self.group_of_option
            .get(usize::from(option))
            .map_or(0, |&g| usize::from(g))
    }

    /// The item's id in the metadata (`B_COUNTRY_to_continent`, `Q289`, ...).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The survey column the item reads (`question_id_converted`).
    pub fn column(&self) -> &str {
        &self.column
    }

    /// The metadata's descriptive label (`question_category`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Multiple choice or code list.
    pub fn kind(&self) -> DemographicKind {
        self.kind
    }

    /// The statement template (`statement_template`).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// All options.
    pub fn options(&self) -> &[DemographicOption] {
        &self.options
    }

    /// The option a raw code selects; `None` for codes that are no valid answer.
    #[inline]
    pub fn option_for_code(&self, code: i64) -> Option<u16> {
        self.codes.get(code)
    }

    /// The identity-declaring statement of a raw code, if it is a valid answer.
    ///
    /// ```
    /// use indievalue_catalog::{Catalog};
    /// use indievalue_testdata::mini_catalog_dir;
    /// let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    /// let sex = catalog.demographic("Q260").unwrap();
    /// assert!(sex.statement_for_code(1).is_some());
    /// assert!(sex.statement_for_code(-2).is_none());
    /// ```
    pub fn statement_for_code(&self, code: i64) -> Option<&str> {
        self.option_for_code(code)
            .map(|o| self.options[o as usize].statement.as_str())
    }

    /// The raw-code map.
    pub fn code_map(&self) -> &CodeMap {
        &self.codes
    }
}
