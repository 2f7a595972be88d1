//! The latent-class model: building it for a catalog, saving and loading it, and the exact
//! posterior over profiles and predictive distribution of an answer given what a row shows.

use crate::{Error, Result, SynthConfig};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{COUNTRY_ITEM, Catalog, Demographic, Granularity};

/// The demographic item whose codes play the countries' part: the WVS's `B_COUNTRY`; on a
/// described survey its balance item (each group code gets its own mixture over profiles), or
/// none (one population).
pub(crate) fn home_item(catalog: &Catalog) -> Option<usize> {
    let survey = catalog.survey();
    if survey.described {
        survey
            .evaluation
            .balance_by
            .as_deref()
            .and_then(|id| catalog.demographic_index(id))
    } else {
        catalog.demographic_index(COUNTRY_ITEM)
    }
}

/// The column of [`home_item`], which every item reading it copies.
pub(crate) fn home_column(catalog: &Catalog) -> Option<&str> {
    home_item(catalog).map(|d| catalog.demographics()[d].column())
}
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One country of the model (on a described survey: one code of its balance item, or the whole
/// population).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryModel {
    /// The `B_COUNTRY` code (a described survey: the balance item's code, or 0).
    pub code: i32,
    /// Relative population weight.
    pub weight: f64,
    /// Mixture over profiles (sums to 1).
    pub mixture: Vec<f64>,
    /// Positions of the questions not asked in this country.
    pub not_asked: Vec<usize>,
}

/// The latent-class model behind a synthetic survey; serialisable so that ceilings can be
/// computed long after the CSV was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticModel {
    /// The configuration it was built with.
    pub config: SynthConfig,
    /// Content hash of the catalog it was built for.
    pub catalog_hash: String,
    /// The countries.
    pub countries: Vec<CountryModel>,
    /// `answers[k][q][i]`: probability that profile `k` gives the `i`-th valid raw code (ascending)
    /// of question `q`.
    pub answers: Vec<Vec<Vec<f64>>>,
    /// `demographics[k][d][o]`: probability of option `o` of demographic item `d` under profile `k`.
    pub demographics: Vec<Vec<Vec<f64>>>,
    /// Per-question missingness multiplier.
    pub difficulty: Vec<f64>,
}

/// What a person's row shows, as evidence about their profile.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    /// The `B_COUNTRY` code, if known.
    pub country: Option<i32>,
    /// Valid demographic options as `(item position, option index)`.
    pub demographics: &'a [(usize, u16)],
    /// Valid value answers as `(question position, statement index)` at the granularity passed.
    pub answers: &'a [(usize, u8)],
}

/// `D_INTERVIEW` = country code x this + person index + 1, unique while people < this.
pub(crate) const PER_COUNTRY: i64 = 1_000_000;

/// Demographic items naming a country of birth.
pub(crate) const BIRTH_ITEMS: [&str; 3] = ["Q266", "Q267", "Q268"];

fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = rng.unit().max(1e-300);
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `answers[k][q]` of [`SyntheticModel`]: per profile and question, a discretised bell over the
/// valid codes, centred between the question's global tendency and the profile's own position.
fn answer_distributions(
    catalog: &Catalog,
    k: usize,
    global: &[f64],
    rng: &mut Rng,
) -> Vec<Vec<Vec<f64>>> {
    let nq = catalog.questions().len();
    let mut answers = Vec::with_capacity(k);
    for _ in 0..k {
        let mut per_q = Vec::with_capacity(nq);
        for (q, question) in catalog.questions().iter().enumerate() {
            let n = question.valid_codes().count();
            let centre = 0.35 * global[q] + 0.65 * rng.unit();
            let sharpness = 8.0 + 50.0 * rng.unit();
            let mut p: Vec<f64> = (0..n)
                .map(|i| {
                    let x = if n > 1 {
                        i as f64 / (n - 1) as f64
                    } else {
                        0.5
                    };
                    (-sharpness * (x - centre) * (x - centre)).exp() + 0.02
                })
                .collect();
            normalise(&mut p);
            per_q.push(p);
        }
        answers.push(per_q);
    }
    answers
}

/// `demographics[k][d]` of [`SyntheticModel`]: per profile and demographic item, log-normal
/// weights over the options, normalised.
fn demographic_distributions(catalog: &Catalog, k: usize, rng: &mut Rng) -> Vec<Vec<Vec<f64>>> {
    let mut demographics = Vec::with_capacity(k);
    for _ in 0..k {
        let per_item = catalog
            .demographics()
            .iter()
            .map(|d| {
                let mut p: Vec<f64> = (0..d.options().len())
                    .map(|_| (1.5 * normal(rng)).exp())
                    .collect();
                normalise(&mut p);
                p
            })
            .collect();
        demographics.push(per_item);
    }
    demographics
}

/// Every country code of the country item, with a population weight, a mixture over the
/// `config.profiles` profiles and the questions (of `nq`) it does not ask.
fn country_models(
    country_item: Option<&Demographic>,
    config: &SynthConfig,
    nq: usize,
    rng: &mut Rng,
) -> Vec<CountryModel> {
    let k = config.profiles;
    let codes: Vec<i32> = match country_item {
        Some(item) => item.code_map().pairs().iter().map(|&(c, _)| c).collect(),
        None => vec![0],
    };
    codes
        .into_iter()
        .map(|code| {
            let weight = 0.5 + rng.unit();
            // A few dominant profiles per country.
            let mut mixture: Vec<f64> = (0..k).map(|_| rng.unit().powi(4) + 0.01).collect();
            normalise(&mut mixture);
            let mut not_asked = Vec::new();
            if rng.unit() < config.skipping_countries && nq > 0 {
                let skips = 1 + rng.below(3) as usize;
                for _ in 0..skips {
                    let q = rng.below(nq as u64) as usize;
                    if !not_asked.contains(&q) {
                        not_asked.push(q);
                    }
                }
                not_asked.sort_unstable();
            }
            CountryModel {
                code,
                weight,
                mixture,
                not_asked,
            }
        })
        .collect()
}

impl SyntheticModel {
    /// Builds the model for a catalog. The WVS needs its `B_COUNTRY` code-list item; a described
    /// survey's balance item plays its part (see the crate docs).
    pub fn new(catalog: &Catalog, config: &SynthConfig) -> Result<SyntheticModel> {
        if config.profiles == 0 {
            return Err(Error::Config("profiles must be at least 1".into()));
        }
        if config.people as i64 >= PER_COUNTRY {
            return Err(Error::Config(format!(
                "at most {} people (ids are country x {PER_COUNTRY} + index)",
                PER_COUNTRY - 1
            )));
        }
        if !catalog.survey().described && catalog.demographic(COUNTRY_ITEM).is_none() {
            return Err(Error::Config(format!(
                "the catalog has no {COUNTRY_ITEM} item"
            )));
        }
        let country_item = home_item(catalog).map(|d| &catalog.demographics()[d]);
        let k = config.profiles;
        let mut rng = Rng::derive(config.seed, &[label("model")]);
        let nq = catalog.questions().len();
        // Global tendencies per question.
        let global: Vec<f64> = (0..nq).map(|_| rng.unit()).collect();
        let difficulty: Vec<f64> = (0..nq).map(|_| 0.3 + 1.7 * rng.unit()).collect();
        let answers = answer_distributions(catalog, k, &global, &mut rng);
        let demographics = demographic_distributions(catalog, k, &mut rng);
        let countries = country_models(country_item, config, nq, &mut rng);
        Ok(SyntheticModel {
            config: config.clone(),
            catalog_hash: catalog.content_hash().to_owned(),
            countries,
            answers,
            demographics,
            difficulty,
        })
    }

    pub(crate) fn check_catalog(&self, catalog: &Catalog) -> Result<()> {
        if catalog.content_hash() != self.catalog_hash {
            return Err(Error::Config(format!(
                "model built for catalog {}, not {}",
                self.catalog_hash,
                catalog.content_hash()
            )));
        }
        Ok(())
    }

    /// Writes the model as JSON (atomically), so ceilings can be computed later.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_vec(self).map_err(|source| indievalue_files::Error::Json {
            path: path.to_owned(),
            line: None,
            source,
        })?;
        Ok(indievalue_files::write_atomic(path, &json)?)
    }

    /// Reads a model written by [`SyntheticModel::save`], checking that it fits `catalog`.
    pub fn load(catalog: &Catalog, path: impl AsRef<Path>) -> Result<SyntheticModel> {
        let path = path.as_ref();
        let model: SyntheticModel = indievalue_files::read_json(path)?;
        model.check_catalog(catalog)?;
        Ok(model)
    }

    /// Probability of statement `s` of question `q` at a granularity, under profile `k`.
    fn statement_prob(
        &self,
        catalog: &Catalog,
        granularity: Granularity,
        k: usize,
        q: usize,
    ) -> Vec<f64> {
        let question = &catalog.questions()[q];
        let set = question.statements(granularity);
        let mut p = vec![0.0; set.len()];
        for (i, code) in question.valid_codes().enumerate() {
            if let Some(s) = set.statement_for_code(code.into()) {
                p[s as usize] += self.answers[k][q][i];
            }
        }
        p
    }

    /// The posterior over profiles given the evidence (statement indices at `granularity`).
    pub fn profile_posterior(
        &self,
        catalog: &Catalog,
        granularity: Granularity,
        evidence: &Evidence<'_>,
    ) -> Vec<f64> {
        let k = self.config.profiles;
        let mut log_post: Vec<f64> = match evidence
            .country
            .and_then(|c| self.countries.iter().find(|m| m.code == c))
        {
            Some(m) => m.mixture.iter().map(|p| p.ln()).collect(),
            None => {
                let total: f64 = self.countries.iter().map(|c| c.weight).sum();
                (0..k)
                    .map(|z| {
                        self.countries
                            .iter()
                            .map(|c| c.weight / total * c.mixture[z])
                            .sum::<f64>()
                            .ln()
                    })
                    .collect()
            }
        };
        for (z, lp) in log_post.iter_mut().enumerate() {
            for &(d, option) in evidence.demographics {
                let item = &catalog.demographics()[d];
                // The country items say nothing about the profile beyond the country.
                if Some(item.column()) == home_column(catalog) {
                    continue;
                }
                let theta = self.demographics[z][d][option as usize];
                if BIRTH_ITEMS.contains(&item.id()) {
                    // Born in the interview country with probability 0.9 when the item can
                    // name it, otherwise drawn from the profile.
                    let home = evidence.country.map(|c| item.option_for_code(c.into()));
                    match home {
                        Some(Some(h)) => {
                            let here = if h == option { 0.9 } else { 0.0 };
                            *lp += (here + 0.1 * theta).ln();
                        }
                        Some(None) => *lp += theta.ln(),
                        // Unknown country: the item is left out (a slightly weaker bound).
                        None => {}
                    }
                    continue;
                }
                *lp += theta.ln();
            }
            for &(q, s) in evidence.answers {
                *lp += self.statement_prob(catalog, granularity, z, q)[s as usize].ln();
            }
        }
        let max = log_post.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut post: Vec<f64> = log_post.iter().map(|lp| (lp - max).exp()).collect();
        normalise(&mut post);
        post
    }

    /// The exact posterior predictive distribution over the statements of question `probe` at a
    /// granularity, given the evidence. Its maximum is the Bayes-optimal probability of being
    /// right; its arg-max the Bayes-optimal answer.
    ///
    /// ```
    /// use indievalue_catalog::{Catalog, Granularity};
    /// use indievalue_testdata::mini_catalog_dir;
    /// use indievalue_synth::{Evidence, SynthConfig, SyntheticModel};
    /// let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    /// let model = SyntheticModel::new(&catalog, &SynthConfig::default()).unwrap();
    /// let p = model.predictive(&catalog, Granularity::Polar, &Evidence::default(), 0);
    /// assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    /// ```
    pub fn predictive(
        &self,
        catalog: &Catalog,
        granularity: Granularity,
        evidence: &Evidence<'_>,
        probe: usize,
    ) -> Vec<f64> {
        let post = self.profile_posterior(catalog, granularity, evidence);
        self.predictive_from_posterior(catalog, granularity, &post, probe)
    }

    /// The predictive distribution over the statements of question `probe` at a granularity,
    /// given a posterior over profiles from [`SyntheticModel::profile_posterior`] (so that one
    /// posterior serves many probes, and evidence and probes may differ in granularity).
    pub fn predictive_from_posterior(
        &self,
        catalog: &Catalog,
        granularity: Granularity,
        posterior: &[f64],
        probe: usize,
    ) -> Vec<f64> {
        let post = posterior;
        let n = catalog.questions()[probe].statements(granularity).len();
        let mut out = vec![0.0; n];
        for (z, w) in post.iter().enumerate() {
            for (s, p) in self
                .statement_prob(catalog, granularity, z, probe)
                .iter()
                .enumerate()
            {
                out[s] += w * p;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indievalue_testdata::mini_catalog_dir;

    #[test]
    fn posterior_finds_the_true_profile_from_many_answers() {
        let catalog = Catalog::load(mini_catalog_dir()).unwrap();
        let model = SyntheticModel::new(&catalog, &SynthConfig::default()).unwrap();
        let mut right = 0;
        for i in 0..200 {
            let p = model.person(&catalog, i);
            let answers: Vec<(usize, u8)> = p
                .answers
                .iter()
                .enumerate()
                .filter_map(|(q, &c)| {
                    catalog.questions()[q]
                        .statements(Granularity::Refined)
                        .statement_for_code(c.into())
                        .map(|s| (q, s))
                })
                .collect();
            let post = model.profile_posterior(
                &catalog,
                Granularity::Refined,
                &Evidence {
                    answers: &answers,
                    ..Default::default()
                },
            );
            let best = post
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            right += usize::from(best == p.profile);
        }
        assert!(right > 150, "{right} of 200");
    }
}
