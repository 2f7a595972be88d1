//! Catalog statistics: Table 1 and Table 6 of the paper, and the combinatorial answer space.

use crate::{Catalog, Category, Granularity};
use serde::Serialize;

/// One row of Table 6: a category's questions and statements.
///
/// ```
/// use indievalue_catalog::{Catalog, Category};
/// use indievalue_testdata::mini_catalog_dir;
/// let stats = Catalog::load(mini_catalog_dir()).unwrap().stats();
/// let row = &stats.categories[0];
/// assert_eq!(row.category, Category::from_index(0));
/// assert_eq!(row.name, "Social Values, Attitudes & Stereotypes");
/// assert!(row.polar_per_question() >= 2.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryRow {
    /// The category.
    pub category: Category,
    /// Its name in the metadata.
    pub name: String,
    /// Number of questions.
    pub questions: usize,
    /// Number of polar statements.
    pub polar: usize,
    /// Number of refined statements.
    pub refined: usize,
}

impl CategoryRow {
    /// Polar statements per question.
    pub fn polar_per_question(&self) -> f64 {
        self.polar as f64 / self.questions.max(1) as f64
    }

    /// Refined statements per question.
    pub fn refined_per_question(&self) -> f64 {
        self.refined as f64 / self.questions.max(1) as f64
    }
}

/// The number of possible answer combinations over all questions: the product of the number of
/// statements per question, computed exactly.
///
/// ```
/// use indievalue_catalog::AnswerSpace;
/// let space = AnswerSpace::from_counts(&[2, 3, 4, 10]);
/// assert_eq!(space.exact, "240");
/// assert!((space.log10 - 240f64.log10()).abs() < 1e-12);
/// assert_eq!(space.scientific(3), "2.40e2");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerSpace {
    /// log10 of the product.
    pub log10: f64,
    /// The product in decimal digits, exactly.
    pub exact: String,
}

impl AnswerSpace {
    /// Computes the product of `counts` exactly (arbitrary precision) and its log10.
    pub fn from_counts(counts: &[usize]) -> AnswerSpace {
        // Little-endian limbs in base 1e9.
        const BASE: u64 = 1_000_000_000;
        let mut limbs: Vec<u64> = vec![1];
        for &n in counts {
            let mut carry = 0u64;
            for limb in limbs.iter_mut() {
                let v = *limb * n as u64 + carry;
                *limb = v % BASE;
                carry = v / BASE;
            }
            while carry > 0 {
                limbs.push(carry % BASE);
                carry /= BASE;
            }
        }
        let mut exact = String::new();
        for (i, limb) in limbs.iter().rev().enumerate() {
            if i == 0 {
                exact.push_str(&limb.to_string());
            } else {
                exact.push_str(&format!("{limb:09}"));
            }
        }
        let log10 = counts.iter().map(|&n| (n as f64).log10()).sum();
        AnswerSpace { log10, exact }
    }

    /// Scientific notation with `significant` digits, rounded half up from the exact digits
    /// (`3.94e86`).
    pub fn scientific(&self, significant: usize) -> String {
        let significant = significant.max(1);
        let digits: Vec<u8> = self.exact.bytes().map(|b| b - b'0').collect();
        let mut exponent = digits.len() as i64 - 1;
        let mut kept: Vec<u8> = digits.iter().copied().take(significant).collect();
        while kept.len() < significant {
            kept.push(0);
        }
        if digits.get(significant).is_some_and(|&d| d >= 5) {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, 1);
                    kept.pop();
                    exponent += 1;
                    break;
                }
                i -= 1;
                if kept[i] == 9 {
                    kept[i] = 0;
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
        let mut s = String::new();
        s.push((b'0' + kept[0]) as char);
        if kept.len() > 1 {
            s.push('.');
            for &d in &kept[1..] {
                s.push((b'0' + d) as char);
            }
        }
        format!("{s}e{exponent}")
    }
}

/// Statistics of a catalog: Table 1's conversion figures and Table 6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogStats {
    /// Number of value questions.
    pub questions: usize,
    /// Number of polar statements.
    pub statements_polar: usize,
    /// Number of refined statements.
    pub statements_refined: usize,
    /// Number of demographic items.
    pub demographics: usize,
    /// Table 6, one row per category that has questions, in metadata order.
    pub categories: Vec<CategoryRow>,
    /// Answer space with polar statements.
    pub answer_space_polar: AnswerSpace,
    /// Answer space with refined statements.
    pub answer_space_refined: AnswerSpace,
}

impl CatalogStats {
    /// Polar statements per question over the whole catalog.
    pub fn polar_per_question(&self) -> f64 {
        self.statements_polar as f64 / self.questions.max(1) as f64
    }

    /// Refined statements per question over the whole catalog.
    pub fn refined_per_question(&self) -> f64 {
        self.statements_refined as f64 / self.questions.max(1) as f64
    }

    /// The answer space at a granularity.
    pub fn answer_space(&self, granularity: Granularity) -> &AnswerSpace {
        match granularity {
            Granularity::Polar => &self.answer_space_polar,
            Granularity::Refined => &self.answer_space_refined,
        }
    }
}

impl Catalog {
    /// Computes Table 1 / Table 6 statistics.
    ///
    /// ```
    /// let stats = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir())
    ///     .unwrap()
    ///     .stats();
    /// assert_eq!(stats.questions, 65);
    /// assert_eq!(stats.categories.len(), 13);
    /// assert!(stats.statements_refined >= stats.statements_polar);
    /// ```
    pub fn stats(&self) -> CatalogStats {
        let polar = self.statement_counts(Granularity::Polar);
        let refined = self.statement_counts(Granularity::Refined);
        let categories = self
            .categories()
            .into_iter()
            .map(|category| {
                let mut row = CategoryRow {
                    category,
                    name: self.category_name(category).to_owned(),
                    questions: 0,
                    polar: 0,
                    refined: 0,
                };
                for (i, _) in self.by_category(category) {
                    row.questions += 1;
                    row.polar += polar[i];
                    row.refined += refined[i];
                }
                row
            })
            .collect();
        CatalogStats {
            questions: self.questions().len(),
            statements_polar: polar.iter().sum(),
            statements_refined: refined.iter().sum(),
            demographics: self.demographics().len(),
            categories,
            answer_space_polar: AnswerSpace::from_counts(&polar),
            answer_space_refined: AnswerSpace::from_counts(&refined),
        }
    }
}
