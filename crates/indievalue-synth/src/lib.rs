//! # indievalue-synth
//!
//! Synthetic respondents in the raw layout of the World Values Survey Wave 7 CSV, for any
//! [`Catalog`], drawn from a latent-class model whose structure is known exactly. They carry no
//! real-world meaning: use them for correctness, scale and speed, never to judge how well a
//! language model understands people.
//!
//! [`Catalog`]: indievalue_catalog::Catalog
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
//! use indievalue_catalog::{Catalog};
//! use indievalue_testdata::mini_catalog_dir;
//! use indievalue_synth::{SynthConfig, SyntheticModel};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let model = SyntheticModel::new(&catalog, &SynthConfig { people: 100, seed: 7, ..Default::default() })?;
//! let dir = tempfile::tempdir().unwrap();
//! let summary = model.write_csv(&catalog, dir.path().join("wvs.csv"))?;
//! assert_eq!(summary.rows, 100);
//! # Ok::<(), indievalue_synth::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod ceiling;
mod config;
mod csv;
mod error;
mod model;
mod person;

pub use config::SynthConfig;
pub use csv::CsvSummary;
pub use error::{Error, Result};
pub use model::{CountryModel, Evidence, SyntheticModel};
pub use person::SyntheticPerson;
