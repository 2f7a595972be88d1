//! The random baseline: its exact expected accuracy.

use indievalue_catalog::{Catalog, Granularity};
use indievalue_sampling::ProbeSetup;

/// The exact expected accuracy (percent) of choosing uniformly at random, per setup: the mean
/// over the setup's probes of `1 / options`.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let setups = indievalue_sampling::ProbeSetup::of_survey(&catalog);
/// let r = indievalue_baselines::random_accuracy(&catalog, &setups, indievalue_catalog::Granularity::Polar);
/// assert!(r[0] > 30.0 && r[0] <= 50.0);
/// ```
pub fn random_accuracy(
    catalog: &Catalog,
    setups: &[ProbeSetup],
    granularity: Granularity,
) -> Vec<f64> {
    setups
        .iter()
        .map(|s| {
            let sum: f64 = s
                .questions()
                .iter()
                .map(|&q| 1.0 / catalog.questions()[q].statements(granularity).len() as f64)
                .sum();
            100.0 * sum / s.questions().len().max(1) as f64
        })
        .collect()
}
