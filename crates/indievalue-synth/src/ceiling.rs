//! The exact Bayes-optimal accuracy on probe tasks: the ceiling no reasoner can beat on a
//! synthetic survey.

use crate::{Error, Evidence, Result, SyntheticModel};
use indievalue_catalog::{Catalog, Respondents};
use indievalue_sampling::ProbeTask;
use std::collections::BTreeMap;

impl SyntheticModel {
    /// The exact Bayes-optimal accuracy (percent) per setup, in setup order: for every probe,
    /// the largest posterior predictive probability given the person's country, demographics and
    /// the task's demonstrations (read at the demonstrations' granularity; probes scored at
    /// theirs), averaged over the probes of a task, then over the setup's tasks.
    ///
    /// ```
    /// # use indievalue_catalog::{Catalog, Granularity};
    /// # use indievalue_sampling::*;
    /// # use indievalue_synth::{SynthConfig, SyntheticModel};
    /// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let model = SyntheticModel::new(&catalog, &SynthConfig { people: 50, ..Default::default() }).unwrap();
    /// let people = model.respondents(&catalog).unwrap();
    /// let answers = AnswerMatrix::new(&people);
    /// let setups = ProbeSetup::of_survey(&catalog);
    /// let spec = DemoSpec { mode: DemoMode::Fixed(5), granularity: Granularity::Polar, demographics: false };
    /// let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity: Granularity::Polar, seed: 1 };
    /// let tasks = build_probe_tasks(&catalog, &people, &answers, &[0, 1], &task_spec);
    /// let ceiling = model.bayes_ceiling(&catalog, &people, &tasks).unwrap();
    /// assert_eq!(ceiling.len(), 3);
    /// assert!(ceiling.iter().all(|&c| c > 0.0 && c <= 100.0));
    /// ```
    pub fn bayes_ceiling(
        &self,
        catalog: &Catalog,
        people: &Respondents,
        tasks: &[ProbeTask],
    ) -> Result<Vec<f64>> {
        let rows = people.row_lookup();
        let country = crate::model::home_item(catalog);
        let mut per_setup: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
        for task in tasks {
            let row = rows
                .row(task.person)
                .ok_or_else(|| Error::Task(format!("person {} is not in the data", task.person)))?;
            let demographics: Vec<(usize, u16)> = (0..catalog.demographics().len())
                .filter_map(|d| people.demographic_option(row, d).map(|o| (d, o)))
                .collect();
            let demos: Vec<(usize, u8)> = task
                .demonstrations
                .iter()
                .filter_map(|d| {
                    catalog
                        .question_index(&d.question)
                        .map(|q| (q, d.statement))
                })
                .collect();
            let evidence = Evidence {
                country: country.map(|d| people.demographic(d).raw[row]),
                demographics: &demographics,
                answers: &demos,
            };
            let post = self.profile_posterior(catalog, task.demo_granularity, &evidence);
            let mut sum = 0.0;
            for probe in &task.probes {
                let q = catalog.question_index(&probe.question).ok_or_else(|| {
                    Error::Task(format!("unknown probe question {}", probe.question))
                })?;
                let best = self
                    .predictive_from_posterior(catalog, task.probe_granularity, &post, q)
                    .into_iter()
                    .fold(0.0f64, f64::max);
                sum += best;
            }
            let e = per_setup.entry(task.setup).or_default();
            e.0 += 100.0 * sum / task.probes.len().max(1) as f64;
            e.1 += 1;
        }
        Ok(per_setup.values().map(|(s, n)| s / *n as f64).collect())
    }
}
