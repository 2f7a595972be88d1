//! Drawing people from the model: one random stream per person.

use crate::model::{BIRTH_ITEMS, PER_COUNTRY, home_column};
use crate::{Result, SyntheticModel};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Respondents};

/// One generated person, before being written as a row.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticPerson {
    /// The person's id (`D_INTERVIEW` on the WVS).
    pub id: i64,
    /// Index into [`SyntheticModel::countries`].
    pub country: usize,
    /// The latent profile.
    pub profile: usize,
    /// Raw code per value question, catalog order.
    pub answers: Vec<i32>,
    /// Raw code per demographic item, catalog order (country items hold the country code).
    pub demographics: Vec<i32>,
}

/// Demographic items whose "not applicable" rate is high (questions about a spouse).
const SPOUSE_ITEMS: [&str; 3] = ["Q276", "Q280", "Q282"];

impl SyntheticModel {
    /// Draws person `index` (0-based). Every person has its own random stream, so a person does
    /// not depend on how many others are drawn.
    pub fn person(&self, catalog: &Catalog, index: usize) -> SyntheticPerson {
        self.draw(catalog, index, label("person"))
    }

    pub(crate) fn draw(&self, catalog: &Catalog, index: usize, stream: u64) -> SyntheticPerson {
        let mut rng = Rng::derive(self.config.seed, &[stream, index as u64]);
        let weights: Vec<f64> = self.countries.iter().map(|c| c.weight).collect();
        let country = rng.weighted(&weights);
        let cm = &self.countries[country];
        let profile = rng.weighted(&cm.mixture);
        let propensity = if rng.unit() < 0.2 {
            0.0
        } else {
            (-0.055 * rng.unit().max(1e-12).ln()).min(0.5)
        };
        let missing_code = |rng: &mut Rng| match rng.below(20) {
            0..=11 => -1,
            12..=17 => -2,
            18 => -3,
            _ => -5,
        };
        let mut answers = Vec::with_capacity(catalog.questions().len());
        for (q, question) in catalog.questions().iter().enumerate() {
            let theta = &self.answers[profile][q];
            let choice = rng.weighted(theta);
            let code = question.valid_codes().nth(choice).unwrap_or(-5);
            let code = if cm.not_asked.binary_search(&q).is_ok() {
                -4
            } else if rng.unit() < propensity * self.difficulty[q] {
                missing_code(&mut rng)
            } else {
                code
            };
            answers.push(code);
        }
        let home = home_column(catalog);
        let mut demographics = Vec::with_capacity(catalog.demographics().len());
        for (d, item) in catalog.demographics().iter().enumerate() {
            let is_home = Some(item.column()) == home;
            let option = rng.weighted(&self.demographics[profile][d]) as u16;
            let mut code = item.code_map().codes_of(option).next().unwrap_or(-5);
            let born_here = BIRTH_ITEMS.contains(&item.id())
                && item.option_for_code(cm.code.into()).is_some()
                && rng.unit() < 0.9;
            if is_home || born_here {
                code = cm.code;
            }
            if !is_home {
                if SPOUSE_ITEMS.contains(&item.id()) && rng.unit() < 0.35 {
                    code = -3;
                } else if rng.unit() < 0.02 {
                    code = missing_code(&mut rng);
                }
            }
            demographics.push(code);
        }
        SyntheticPerson {
            id: i64::from(cm.code) * PER_COUNTRY + index as i64 + 1,
            country,
            profile,
            answers,
            demographics,
        }
    }

    /// All `config.people` people as a [`Respondents`] table, in memory (no CSV), as the
    /// converter would produce from [`SyntheticModel::write_csv`]'s file without duplicates.
    ///
    /// ```
    /// # use indievalue_catalog::{Catalog};
    /// # use indievalue_testdata::mini_catalog_dir;
    /// # use indievalue_synth::{SynthConfig, SyntheticModel};
    /// let catalog = Catalog::load(mini_catalog_dir())?;
    /// let config = SynthConfig { people: 40, ..Default::default() };
    /// let people = SyntheticModel::new(&catalog, &config)?.respondents(&catalog)?;
    /// assert_eq!(people.len(), 40);
    /// # Ok::<(), indievalue_synth::Error>(())
    /// ```
    pub fn respondents(&self, catalog: &Catalog) -> Result<Respondents> {
        self.check_catalog(catalog)?;
        let n = self.config.people;
        let mut ids = Vec::with_capacity(n);
        let columns =
            |k: usize| -> Vec<Vec<i32>> { (0..k).map(|_| Vec::with_capacity(n)).collect() };
        let mut answers = columns(catalog.questions().len());
        let mut demographics = columns(catalog.demographics().len());
        for index in 0..n {
            let person = self.person(catalog, index);
            ids.push(person.id);
            for (column, code) in answers.iter_mut().zip(person.answers) {
                column.push(code);
            }
            for (column, code) in demographics.iter_mut().zip(person.demographics) {
                column.push(code);
            }
        }
        Ok(Respondents::from_raw(catalog, ids, answers, demographics)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::{SynthConfig, SyntheticModel};
    use indievalue_catalog::Catalog;
    use indievalue_testdata::mini_catalog_dir;

    #[test]
    fn same_seed_same_people_different_seed_different_people() {
        let catalog = Catalog::load(mini_catalog_dir()).unwrap();
        let a = SyntheticModel::new(&catalog, &SynthConfig::default()).unwrap();
        let b = SyntheticModel::new(&catalog, &SynthConfig::default()).unwrap();
        let c = SyntheticModel::new(
            &catalog,
            &SynthConfig {
                seed: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.person(&catalog, 5), b.person(&catalog, 5));
        assert_ne!(a.person(&catalog, 5).answers, c.person(&catalog, 5).answers);
    }

    #[test]
    fn answers_are_valid_codes_or_negative() {
        let catalog = Catalog::load(mini_catalog_dir()).unwrap();
        let model = SyntheticModel::new(&catalog, &SynthConfig::default()).unwrap();
        let mut negative = 0;
        let mut total = 0;
        for i in 0..500 {
            let p = model.person(&catalog, i);
            for (q, &code) in p.answers.iter().enumerate() {
                total += 1;
                if code < 0 {
                    negative += 1;
                } else {
                    assert!(catalog.questions()[q].valid_codes().any(|c| c == code));
                }
            }
        }
        let rate = negative as f64 / total as f64;
        assert!(rate > 0.01 && rate < 0.12, "missing rate {rate}");
    }
}
