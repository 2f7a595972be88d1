//! # indievalue-synth
//!
//! Synthetic respondents in the raw layout of the World Values Survey Wave 7 CSV, for any
//! [`Catalog`], drawn from a latent-class model whose structure is known exactly. They carry no
//! real-world meaning: use them for correctness, scale and speed, never to judge how well a
//! language model understands people.
//!
//! ## The model
//!
//! - **Profiles.** `K` latent value profiles ([`SynthConfig::profiles`]). Profile `k` gives every
//!   value question a distribution over its valid raw codes: a discretised bell over the answer
//!   scale, centred at `0.35 g_q + 0.65 u_kq` (a global tendency `g_q` shared by all profiles plus a
//!   profile-specific position `u_kq`), with a sharpness drawn per (profile, question). The shared
//!   tendency makes the global majority a fair predictor; the profile part leaves room for
//!   nearest-neighbour methods; the bell's spread keeps even a perfect reasoner below 100 %.
//! - **Countries.** Every country code of the catalog's `B_COUNTRY` item gets a population weight
//!   and its own mixture over profiles (a few dominant profiles per country). A quarter of the
//!   countries skip one to three questions (code -4, "not asked", for everybody there).
//! - **Demographics.** Every demographic item has a distribution over its options per profile, so
//!   demographics correlate with values. Country-of-birth items name the interview country with
//!   probability 0.9 when they can. Spouse items are "not applicable" (-3) for 35 % of people.
//! - **Missingness.** Each person has a propensity to give no valid answer: 0 for a fifth of people,
//!   otherwise exponential with mean 0.055, scaled per question by a difficulty in 0.3..2. A missing
//!   answer is -1 (60 %), -2 (30 %), -3 (5 %) or -5 (5 %). Missingness is independent of values.
//!
//! Because the structure is explicit, [`SyntheticModel::predictive`] gives the exact posterior
//! predictive distribution of a probe answer given what a person's row shows; its maximum is the
//! Bayes-optimal accuracy on that probe, the ceiling no reasoner can beat in expectation.
//!
//! ```
//! use indievalue_catalog::{Catalog, mini_catalog_dir};
//! use indievalue_synth::{SynthConfig, SyntheticModel};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let model = SyntheticModel::new(&catalog, &SynthConfig { people: 100, seed: 7, ..Default::default() })?;
//! let dir = tempfile::tempdir().unwrap();
//! let summary = model.write_csv(&catalog, dir.path().join("wvs.csv"))?;
//! assert_eq!(summary.rows, 100);
//! # Ok::<(), indievalue_synth::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{COUNTRY_ITEM, Catalog, Granularity, Respondents};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of the synthetic survey generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model file could not be parsed or written.
    #[error("{path}: model file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The catalog cannot drive the generator, or a model does not fit the catalog.
    #[error("synthetic survey: {0}")]
    Config(String),
    /// Loading the catalog failed.
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Knobs of the generator. `Default` gives the documented model with 1,000 people and seed 0.
///
/// ```
/// let c = indievalue_synth::SynthConfig::default();
/// assert_eq!(c.profiles, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of distinct people (rows before duplicates).
    pub people: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Number of latent value profiles.
    pub profiles: usize,
    /// Probability that a row is followed by a second interview row with the same `D_INTERVIEW`
    /// (the converter keeps the first).
    pub duplicate_rate: f64,
    /// Fraction of countries that skip some questions.
    pub skipping_countries: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            people: 1000,
            seed: 0,
            profiles: 8,
            duplicate_rate: 0.0,
            skipping_countries: 0.25,
        }
    }
}

/// One country of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryModel {
    /// The `B_COUNTRY` code.
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

/// One generated person, before being written as a row.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticPerson {
    /// `D_INTERVIEW`.
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

/// What [`SyntheticModel::write_csv`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvSummary {
    /// Data rows written (people plus duplicate rows).
    pub rows: usize,
    /// Duplicate rows among them.
    pub duplicate_rows: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// `D_INTERVIEW` = country code x this + person index + 1, unique while people < this.
const PER_COUNTRY: i64 = 1_000_000;

/// Demographic items whose "not applicable" rate is high (questions about a spouse).
const SPOUSE_ITEMS: [&str; 3] = ["Q276", "Q280", "Q282"];
/// Demographic items naming a country of birth.
const BIRTH_ITEMS: [&str; 3] = ["Q266", "Q267", "Q268"];
/// Extra columns that the real file has and the converter must ignore.
const LEADING_EXTRAS: [&str; 4] = ["version", "doi", "A_WAVE", "A_YEAR"];

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

impl SyntheticModel {
    /// Builds the model for a catalog. The catalog needs a `B_COUNTRY` code-list item.
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
        let country_item = catalog
            .demographic(COUNTRY_ITEM)
            .ok_or_else(|| Error::Config(format!("the catalog has no {COUNTRY_ITEM} item")))?;
        let k = config.profiles;
        let mut rng = Rng::derive(config.seed, &[label("model")]);
        let nq = catalog.questions().len();
        // Global tendencies per question.
        let global: Vec<f64> = (0..nq).map(|_| rng.unit()).collect();
        let difficulty: Vec<f64> = (0..nq).map(|_| 0.3 + 1.7 * rng.unit()).collect();
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
        let mut demographics = Vec::with_capacity(k);
        for _ in 0..k {
            let per_item = catalog
                .demographics()
                .iter()
                .map(|d| {
                    let mut p: Vec<f64> = (0..d.options().len())
                        .map(|_| (1.5 * normal(&mut rng)).exp())
                        .collect();
                    normalise(&mut p);
                    p
                })
                .collect();
            demographics.push(per_item);
        }
        let countries = country_item
            .code_map()
            .pairs()
            .iter()
            .map(|&(code, _)| {
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
            .collect();
        Ok(SyntheticModel {
            config: config.clone(),
            catalog_hash: catalog.content_hash().to_owned(),
            countries,
            answers,
            demographics,
            difficulty,
        })
    }

    fn check_catalog(&self, catalog: &Catalog) -> Result<()> {
        if catalog.content_hash() != self.catalog_hash {
            return Err(Error::Config(format!(
                "model built for catalog {}, not {}",
                self.catalog_hash,
                catalog.content_hash()
            )));
        }
        Ok(())
    }

    /// Draws person `index` (0-based). Every person has its own random stream, so a person does
    /// not depend on how many others are drawn.
    pub fn person(&self, catalog: &Catalog, index: usize) -> SyntheticPerson {
        self.draw(catalog, index, label("person"))
    }

    fn draw(&self, catalog: &Catalog, index: usize, stream: u64) -> SyntheticPerson {
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
        let mut demographics = Vec::with_capacity(catalog.demographics().len());
        for (d, item) in catalog.demographics().iter().enumerate() {
            let option = rng.weighted(&self.demographics[profile][d]) as u16;
            let mut code = item.code_map().codes_of(option).next().unwrap_or(-5);
            let born_here = BIRTH_ITEMS.contains(&item.id())
                && item.option_for_code(cm.code.into()).is_some()
                && rng.unit() < 0.9;
            if item.column() == COUNTRY_ITEM || born_here {
                code = cm.code;
            }
            if item.column() != COUNTRY_ITEM {
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
    /// # use indievalue_catalog::{Catalog, mini_catalog_dir};
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

    /// The CSV header: a few extra columns, `B_COUNTRY`, `D_INTERVIEW`, the value questions in
    /// catalog order, the remaining demographic columns, and a trailing weight column.
    pub fn csv_header(&self, catalog: &Catalog) -> Vec<String> {
        let mut h: Vec<String> = LEADING_EXTRAS.iter().map(|s| s.to_string()).collect();
        h.push(COUNTRY_ITEM.into());
        h.push("B_COUNTRY_ALPHA".into());
        h.push("D_INTERVIEW".into());
        h.extend(catalog.questions().iter().map(|q| q.id().to_string()));
        for d in demographic_columns(catalog) {
            h.push(catalog.demographics()[d].column().to_owned());
        }
        h.push("W_WEIGHT".into());
        h
    }

    /// Writes the survey as a raw CSV (comma-separated, quoted text columns, `\n` line ends) to a
    /// temporary sibling of `path`, renamed to `path` when complete.
    pub fn write_csv(&self, catalog: &Catalog, path: impl AsRef<Path>) -> Result<CsvSummary> {
        self.check_catalog(catalog)?;
        let path = path.as_ref();
        indievalue_catalog::storage::write_atomic_with(path, |out| self.write_rows(catalog, out))
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })
    }

    fn write_rows(&self, catalog: &Catalog, out: &mut impl Write) -> std::io::Result<CsvSummary> {
        let header = self.csv_header(catalog);
        out.write_all(header.join(",").as_bytes())?;
        out.write_all(b"\n")?;
        let demo_cols = demographic_columns(catalog);
        let mut line = Vec::with_capacity(4096);
        let mut rows = 0;
        let mut duplicate_rows = 0;
        let mut bytes = header.join(",").len() as u64 + 1;
        for index in 0..self.config.people {
            let person = self.person(catalog, index);
            self.row(&person, &demo_cols, &mut line);
            out.write_all(&line)?;
            bytes += line.len() as u64;
            rows += 1;
            let mut rng = Rng::derive(self.config.seed, &[label("duplicate"), index as u64]);
            if self.config.duplicate_rate > 0.0 && rng.unit() < self.config.duplicate_rate {
                let mut again = self.draw(catalog, index, label("duplicate-row"));
                again.id = person.id;
                again.country = person.country;
                again.demographics = person.demographics.clone();
                self.row(&again, &demo_cols, &mut line);
                out.write_all(&line)?;
                bytes += line.len() as u64;
                rows += 1;
                duplicate_rows += 1;
            }
        }
        Ok(CsvSummary {
            rows,
            duplicate_rows,
            bytes,
        })
    }

    fn row(&self, person: &SyntheticPerson, demo_cols: &[usize], line: &mut Vec<u8>) {
        line.clear();
        let code = self.countries[person.country].code;
        line.extend_from_slice(b"\"4-0-0 (2022-12-23)\",\"doi.org/10.14281/18241.20\",7,");
        push_int(line, 2017 + (person.id % 6));
        line.push(b',');
        push_int(line, code.into());
        line.extend_from_slice(b",\"C");
        push_int(line, code.into());
        line.extend_from_slice(b"\",");
        push_int(line, person.id);
        for &a in &person.answers {
            line.push(b',');
            push_int(line, a.into());
        }
        for &d in demo_cols {
            line.push(b',');
            push_int(line, person.demographics[d].into());
        }
        line.extend_from_slice(b",0.8731\n");
    }

    /// Writes the model as JSON (atomically), so ceilings can be computed later.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_vec(self).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        indievalue_catalog::storage::write_atomic(path, &json).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a model written by [`SyntheticModel::save`], checking that it fits `catalog`.
    pub fn load(catalog: &Catalog, path: impl AsRef<Path>) -> Result<SyntheticModel> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let model: SyntheticModel =
            serde_json::from_slice(&bytes).map_err(|source| Error::Json {
                path: path.to_owned(),
                source,
            })?;
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
                if item.column() == COUNTRY_ITEM {
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
    /// use indievalue_catalog::{Catalog, Granularity, mini_catalog_dir};
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

/// Positions of the demographic items that need a column of their own (all but those reading the
/// country column), first occurrence of each column only.
fn demographic_columns(catalog: &Catalog) -> Vec<usize> {
    let mut seen: Vec<&str> = vec![COUNTRY_ITEM];
    let mut out = Vec::new();
    for (i, d) in catalog.demographics().iter().enumerate() {
        if !seen.contains(&d.column()) {
            seen.push(d.column());
            out.push(i);
        }
    }
    out
}

/// Appends the decimal form of `v`.
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use indievalue_catalog::mini_catalog_dir;

    #[test]
    fn push_int_writes_decimals() {
        let mut v = Vec::new();
        for n in [0i64, 7, -4, 12345, -100, i64::from(i32::MAX)] {
            v.clear();
            push_int(&mut v, n);
            assert_eq!(String::from_utf8(v.clone()).unwrap(), n.to_string());
        }
    }

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
