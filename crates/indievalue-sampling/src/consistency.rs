//! Consistency sanity sets: probe tasks whose demonstrations settle every probe.
//!
//! A reasoner that reads its demonstrations should be well above chance on such a set whatever
//! the person; one near chance does not use them. The answers are drawn at random (no survey data
//! is needed), so the set measures reading, not knowledge of people.

use crate::{DemoMode, Demonstration, Probe, ProbeSetup, ProbeTask, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity};
use serde::{Deserialize, Serialize};

/// Which demonstration settles a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlingStatement {
    /// The probe's gold statement itself, word for word, in the probe's granularity.
    Same(Granularity),
    /// A polar probe settled by a refined statement of the same question whose survey codes fall
    /// in the gold polar statement ("I strongly agree that X" for "I agree that X").
    RefinedForPolar,
}

impl std::str::FromStr for SettlingStatement {
    type Err = String;

    /// `same-polar`, `same-refined` or `refined-for-polar`.
    fn from_str(s: &str) -> Result<SettlingStatement, String> {
        match s {
            "same-polar" => Ok(SettlingStatement::Same(Granularity::Polar)),
            "same-refined" => Ok(SettlingStatement::Same(Granularity::Refined)),
            "refined-for-polar" => Ok(SettlingStatement::RefinedForPolar),
            other => Err(format!(
                "{other:?}: expected same-polar, same-refined or refined-for-polar"
            )),
        }
    }
}

impl SettlingStatement {
    /// The granularity of the probes.
    pub fn probe_granularity(self) -> Granularity {
        match self {
            SettlingStatement::Same(g) => g,
            SettlingStatement::RefinedForPolar => Granularity::Polar,
        }
    }

    /// The granularity of the settling demonstrations (and the fillers).
    pub fn demo_granularity(self) -> Granularity {
        match self {
            SettlingStatement::Same(g) => g,
            SettlingStatement::RefinedForPolar => Granularity::Refined,
        }
    }
}

/// How a consistency set is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencySpec {
    /// Which demonstration settles each probe.
    pub settling: SettlingStatement,
    /// Extra demonstrations of questions outside the setup, random statements (distractors).
    pub fillers: usize,
    /// The seed; each (person, setup) draws from its own stream.
    pub seed: u64,
}

/// One task per (person `1..=people`, setup): every question of the setup is probed, its gold
/// statement drawn uniformly, and settled by one demonstration ([`SettlingStatement`]); then
/// `fillers` random statements of questions outside the setup; demonstrations shuffled.
///
/// ```
/// use indievalue_catalog::{Catalog, Granularity};
/// use indievalue_testdata::mini_catalog_dir;
/// use indievalue_sampling::{ConsistencySpec, ProbeSetup, SettlingStatement, consistency_tasks};
/// let catalog = Catalog::load(mini_catalog_dir())?;
/// let setups = ProbeSetup::of_survey(&catalog);
/// let spec = ConsistencySpec { settling: SettlingStatement::Same(Granularity::Polar), fillers: 5, seed: 7 };
/// let tasks = consistency_tasks(&catalog, &setups, 2, &spec)?;
/// assert_eq!(tasks.len(), 6);
/// let task = &tasks[0];
/// assert_eq!(task.demonstrations.len(), task.probes.len() + 5);
/// for probe in &task.probes {
///     assert!(task.demonstrations.iter().any(|d| d.question == probe.question && d.statement == probe.gold));
/// }
/// # Ok::<(), indievalue_sampling::Error>(())
/// ```
pub fn consistency_tasks(
    catalog: &Catalog,
    setups: &[ProbeSetup],
    people: usize,
    spec: &ConsistencySpec,
) -> Result<Vec<ProbeTask>> {
    let questions = catalog.questions();
    let probe_g = spec.settling.probe_granularity();
    let demo_g = spec.settling.demo_granularity();
    let mut tasks = Vec::with_capacity(people * setups.len());
    for person in 1..=people {
        for (s, setup) in setups.iter().enumerate() {
            let mut rng = Rng::derive(spec.seed, &[label("consistency"), person as u64, s as u64]);
            let mask = setup.mask(questions.len());
            let mut demonstrations = Vec::new();
            let mut probes = Vec::new();
            for (qi, q) in questions.iter().enumerate() {
                if !mask[qi] {
                    continue;
                }
                let probe_statements = q.statements(probe_g);
                let (shown, gold) = match spec.settling {
                    SettlingStatement::Same(_) => {
                        let gold = rng.below(probe_statements.len() as u64) as u8;
                        (gold, gold)
                    }
                    SettlingStatement::RefinedForPolar => {
                        let refined = q.statements(Granularity::Refined);
                        let r = rng.below(refined.len() as u64) as u16;
                        let gold = refined
                            .code_map()
                            .codes_of(r)
                            .find_map(|code| probe_statements.statement_for_code(i64::from(code)));
                        let Some(gold) = gold else {
                            return Err(crate::Error::Infeasible(format!(
                                "question {}: refined statement {r} maps to no polar statement",
                                q.id().as_str()
                            )));
                        };
                        (r as u8, gold)
                    }
                };
                demonstrations.push(Demonstration {
                    question: q.id().as_str().to_owned(),
                    statement: shown,
                });
                probes.push(Probe {
                    question: q.id().as_str().to_owned(),
                    options: probe_statements.len() as u8,
                    gold,
                });
            }
            let others: Vec<usize> = (0..questions.len()).filter(|&i| !mask[i]).collect();
            if spec.fillers > 0 && others.is_empty() {
                return Err(crate::Error::Infeasible(format!(
                    "setup {s} probes every question; no filler questions are left"
                )));
            }
            for _ in 0..spec.fillers {
                let q = &questions[others[rng.below(others.len() as u64) as usize]];
                let n = q.statements(demo_g).len() as u64;
                demonstrations.push(Demonstration {
                    question: q.id().as_str().to_owned(),
                    statement: rng.below(n) as u8,
                });
            }
            for i in (1..demonstrations.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                demonstrations.swap(i, j);
            }
            tasks.push(ProbeTask {
                person: person as i64,
                setup: s,
                probe_granularity: probe_g,
                demo_granularity: demo_g,
                demo_mode: DemoMode::Fixed(demonstrations.len()),
                demographics: Vec::new(),
                demonstrations,
                probes,
            });
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indievalue_testdata::mini_catalog_dir;

    #[test]
    fn seeded_settled_and_shuffled() {
        let catalog = Catalog::load(mini_catalog_dir()).unwrap();
        let setups = ProbeSetup::of_survey(&catalog);
        let spec = ConsistencySpec {
            settling: SettlingStatement::RefinedForPolar,
            fillers: 6,
            seed: 3,
        };
        let a = consistency_tasks(&catalog, &setups, 2, &spec).unwrap();
        let b = consistency_tasks(&catalog, &setups, 2, &spec).unwrap();
        assert_eq!(a, b);
        let other =
            consistency_tasks(&catalog, &setups, 2, &ConsistencySpec { seed: 4, ..spec }).unwrap();
        assert_ne!(a, other);
        for task in &a {
            assert_eq!(task.probe_granularity, Granularity::Polar);
            assert_eq!(task.demo_granularity, Granularity::Refined);
            assert_eq!(task.demonstrations.len(), task.probes.len() + 6);
            for probe in &task.probes {
                let q = catalog.question(&probe.question).unwrap();
                let settling: Vec<_> = task
                    .demonstrations
                    .iter()
                    .filter(|d| d.question == probe.question)
                    .collect();
                assert_eq!(settling.len(), 1);
                let code = q
                    .statements(Granularity::Refined)
                    .code_map()
                    .codes_of(u16::from(settling[0].statement))
                    .next()
                    .unwrap();
                assert_eq!(
                    q.statements(Granularity::Polar)
                        .statement_for_code(i64::from(code)),
                    Some(probe.gold)
                );
            }
        }
        // The settling statements are not all first: the list is shuffled.
        let first = &a[0].demonstrations[..a[0].probes.len()];
        assert!(
            first
                .iter()
                .any(|d| !a[0].probes.iter().any(|p| p.question == d.question))
        );
    }
}
