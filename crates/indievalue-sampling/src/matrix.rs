//! A row-major copy of the answers, for fast per-person access.

use indievalue_catalog::{Granularity, NO_ANSWER, Respondents};

/// The statement indices of every person, row-major (`people x questions`), for both
/// granularities. [`Respondents`] is column-major; sampling walks people, so it wants rows.
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents};
/// # use indievalue_testdata::mini_catalog_dir;
/// # let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// # let q = catalog.questions().len();
/// let people = Respondents::from_raw(&catalog, vec![1, 2], vec![vec![1, -1]; q],
///     vec![vec![1, 1]; catalog.demographics().len()]).unwrap();
/// let m = indievalue_sampling::AnswerMatrix::new(&people);
/// assert!(m.answer(0, 0, Granularity::Polar).is_some());
/// assert_eq!(m.answer(1, 0, Granularity::Polar), None);
/// assert_eq!(m.valid_count(1), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerMatrix {
    questions: usize,
    polar: Vec<u8>,
    refined: Vec<u8>,
}

impl AnswerMatrix {
    /// Transposes the answers of `people`.
    pub fn new(people: &Respondents) -> AnswerMatrix {
        let n = people.len();
        let nq = people.questions().len();
        let mut polar = vec![NO_ANSWER; n * nq];
        let mut refined = vec![NO_ANSWER; n * nq];
        for (q, column) in people.questions().iter().enumerate() {
            for p in 0..n {
                polar[p * nq + q] = column.polar[p];
                refined[p * nq + q] = column.refined[p];
            }
        }
        AnswerMatrix {
            questions: nq,
            polar,
            refined,
        }
    }

    /// Number of questions per row.
    pub fn questions(&self) -> usize {
        self.questions
    }

    /// The row of a person at a granularity ([`NO_ANSWER`] for no valid answer).
    #[inline]
    pub fn row(&self, person: usize, granularity: Granularity) -> &[u8] {
        let data = match granularity {
            Granularity::Polar => &self.polar,
            Granularity::Refined => &self.refined,
        };
        &data[person * self.questions..(person + 1) * self.questions]
    }

    /// One answer, if valid.
    #[inline]
    pub fn answer(&self, person: usize, question: usize, granularity: Granularity) -> Option<u8> {
        let v = self.row(person, granularity)[question];
        (v != NO_ANSWER).then_some(v)
    }

    /// Number of valid answers of a person.
    pub fn valid_count(&self, person: usize) -> usize {
        self.row(person, Granularity::Polar)
            .iter()
            .filter(|&&v| v != NO_ANSWER)
            .count()
    }
}
