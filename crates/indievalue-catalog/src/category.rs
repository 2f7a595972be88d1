//! The 13 value-question categories and the six continents.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the 13 categories of value questions, in the order of the authors' metadata.
///
/// ```
/// use indievalue_catalog::Category;
/// let c = Category::from_metadata_name("Postmaterialist Index").unwrap();
/// assert_eq!(c, Category::PostmaterialistIndex);
/// assert_eq!(c.index(), 7);
/// assert_eq!(Category::ALL.len(), 13);
/// assert_eq!(Category::SocialValues.short_name(), "Social Values & Stereotypes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    /// Social Values, Attitudes & Stereotypes.
    SocialValues,
    /// Happiness and Well-Being.
    Happiness,
    /// Social Capital, Trust & Organizational Membership.
    SocialCapital,
    /// Economic Values.
    Economic,
    /// Corruption.
    Corruption,
    /// Migration.
    Migration,
    /// Security.
    Security,
    /// Postmaterialist Index.
    PostmaterialistIndex,
    /// Science & Technology.
    ScienceTechnology,
    /// Religious Values.
    Religious,
    /// Ethical Values and Norms.
    Ethical,
    /// Political Interest & Political Participation.
    PoliticalInterest,
    /// Political Culture & Political Regimes.
    PoliticalCulture,
}

impl Category {
    /// All categories in metadata order.
    pub const ALL: [Category; 13] = [
        Category::SocialValues,
        Category::Happiness,
        Category::SocialCapital,
        Category::Economic,
        Category::Corruption,
        Category::Migration,
        Category::Security,
        Category::PostmaterialistIndex,
        Category::ScienceTechnology,
        Category::Religious,
        Category::Ethical,
        Category::PoliticalInterest,
        Category::PoliticalCulture,
    ];

    /// Position in metadata order (0..13).
    ///
    /// ```
    /// assert_eq!(indievalue_catalog::Category::PoliticalCulture.index(), 12);
    /// ```
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in the metadata files (`question_category`) and in Table 6 of the paper.
    ///
    /// ```
    /// use indievalue_catalog::Category;
    /// assert_eq!(Category::Ethical.metadata_name(), "Ethical Values and Norms");
    /// ```
    pub fn metadata_name(self) -> &'static str {
        match self {
            Category::SocialValues => "Social Values, Attitudes & Stereotypes",
            Category::Happiness => "Happiness and Well-Being",
            Category::SocialCapital => "Social Capital, Trust & Organizational Membership",
            Category::Economic => "Economic Values",
            Category::Corruption => "Corruption",
            Category::Migration => "Migration",
            Category::Security => "Security",
            Category::PostmaterialistIndex => "Postmaterialist Index",
            Category::ScienceTechnology => "Science & Technology",
            Category::Religious => "Religious Values",
            Category::Ethical => "Ethical Values and Norms",
            Category::PoliticalInterest => "Political Interest & Political Participation",
            Category::PoliticalCulture => "Political Culture & Political Regimes",
        }
    }

    /// The shorter display name of the paper's figures (Figure 2).
    ///
    /// ```
    /// use indievalue_catalog::Category;
    /// assert_eq!(Category::SocialCapital.short_name(), "Social Capital & Trust");
    /// ```
    pub fn short_name(self) -> &'static str {
        match self {
            Category::SocialValues => "Social Values & Stereotypes",
            Category::Happiness => "Happiness & Well-Being",
            Category::SocialCapital => "Social Capital & Trust",
            Category::Economic => "Economic Values",
            Category::Corruption => "Corruption",
            Category::Migration => "Migration",
            Category::Security => "Security",
            Category::PostmaterialistIndex => "Postmaterialist Index",
            Category::ScienceTechnology => "Science & Technology",
            Category::Religious => "Religious Values",
            Category::Ethical => "Ethical Values & Norms",
            Category::PoliticalInterest => "Political Interest & Participation",
            Category::PoliticalCulture => "Political Culture & Regimes",
        }
    }

    /// Parses a metadata category name; `None` for an unknown name.
    ///
    /// ```
    /// use indievalue_catalog::Category;
    /// assert!(Category::from_metadata_name("Astrology").is_none());
    /// ```
    pub fn from_metadata_name(name: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.metadata_name() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metadata_name())
    }
}

/// A continent, as the metadata item `B_COUNTRY_to_continent` names it.
///
/// ```
/// use indievalue_catalog::Continent;
/// assert_eq!(Continent::from_name("North America"), Some(Continent::NorthAmerica));
/// assert_eq!(Continent::Oceania.name(), "Oceania");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Continent {
    /// Africa.
    Africa,
    /// Asia.
    Asia,
    /// Europe.
    Europe,
    /// North America.
    NorthAmerica,
    /// Oceania.
    Oceania,
    /// South America.
    SouthAmerica,
}

impl Continent {
    /// All continents, alphabetically.
    pub const ALL: [Continent; 6] = [
        Continent::Africa,
        Continent::Asia,
        Continent::Europe,
        Continent::NorthAmerica,
        Continent::Oceania,
        Continent::SouthAmerica,
    ];

    /// The name used in the metadata.
    ///
    /// ```
    /// assert_eq!(indievalue_catalog::Continent::SouthAmerica.name(), "South America");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Continent::Africa => "Africa",
            Continent::Asia => "Asia",
            Continent::Europe => "Europe",
            Continent::NorthAmerica => "North America",
            Continent::Oceania => "Oceania",
            Continent::SouthAmerica => "South America",
        }
    }

    /// Parses a metadata continent name.
    ///
    /// ```
    /// assert!(indievalue_catalog::Continent::from_name("Atlantis").is_none());
    /// ```
    pub fn from_name(name: &str) -> Option<Continent> {
        Continent::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::str::FromStr for Continent {
    type Err = String;

    /// A continent's name as the metadata spells it.
    fn from_str(s: &str) -> Result<Continent, String> {
        Continent::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Continent::ALL.iter().map(|c| c.name()).collect();
            format!("{s:?}: expected one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
