//! Value-question categories: whatever distinct `question_category` strings a survey's
//! metadata holds, numbered in order of first appearance.

use serde::{Deserialize, Serialize};

/// A category of value questions: its position among the catalog's categories, which are the
/// distinct `question_category` strings of the metadata in order of first appearance (the WVS
/// has 13; a described survey any number). Names come from the catalog
/// ([`Catalog::category_name`](crate::Catalog::category_name)).
///
/// ```
/// use indievalue_catalog::{Catalog, Category};
/// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let c = catalog.category_by_name("Postmaterialist Index").unwrap();
/// assert_eq!(c, Category::from_index(7));
/// assert_eq!(catalog.categories().len(), 13);
/// assert_eq!(catalog.category_short_name(catalog.categories()[0]), "Social Values & Stereotypes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Category(u16);

impl Category {
    /// The category at a position of the catalog's category list.
    pub fn from_index(index: usize) -> Category {
        Category(u16::try_from(index).unwrap_or(u16::MAX))
    }

    /// Position in the catalog's category list (order of first appearance).
    ///
    /// ```
    /// assert_eq!(indievalue_catalog::Category::from_index(12).index(), 12);
    /// ```
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The shorter display names of the WVS categories in the paper's figures (Figure 2), by the
/// metadata's name. Used for a catalog without `survey.toml` (the WVS); a described survey
/// gives its own in `[categories] short_names` or shows the full names.
pub(crate) const WVS_SHORT_NAMES: [(&str, &str); 13] = [
    (
        "Social Values, Attitudes & Stereotypes",
        "Social Values & Stereotypes",
    ),
    ("Happiness and Well-Being", "Happiness & Well-Being"),
    (
        "Social Capital, Trust & Organizational Membership",
        "Social Capital & Trust",
    ),
    ("Economic Values", "Economic Values"),
    ("Corruption", "Corruption"),
    ("Migration", "Migration"),
    ("Security", "Security"),
    ("Postmaterialist Index", "Postmaterialist Index"),
    ("Science & Technology", "Science & Technology"),
    ("Religious Values", "Religious Values"),
    ("Ethical Values and Norms", "Ethical Values & Norms"),
    (
        "Political Interest & Political Participation",
        "Political Interest & Participation",
    ),
    (
        "Political Culture & Political Regimes",
        "Political Culture & Regimes",
    ),
];
