//! Probe tasks and the versioned JSON Lines task files.

use crate::{AnswerMatrix, DemoMode, DemoSpec, Demonstrations, Error, ProbeSetup, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{
    Catalog, Category, FileHeader, Granularity, Respondents, read_catalog_file, write_catalog_file,
};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format tag of probe task files.
pub const TASK_FORMAT: &str = "indievalue-probe-tasks/1";

/// One demonstration: a question and the statement the person chose. In files it is the pair
/// `["Q12", 3]`, to keep large training sets small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "(String, u8)", from = "(String, u8)")]
pub struct Demonstration {
    /// Question id.
    pub question: String,
    /// Statement index at the task's demonstration granularity.
    pub statement: u8,
}

impl From<Demonstration> for (String, u8) {
    fn from(d: Demonstration) -> Self {
        (d.question, d.statement)
    }
}

impl From<(String, u8)> for Demonstration {
    fn from((question, statement): (String, u8)) -> Self {
        Demonstration {
            question,
            statement,
        }
    }
}

/// One of the person's demographic statements: the item and the chosen option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemographicStatement {
    /// Demographic item id.
    pub item: String,
    /// Option index.
    pub option: u16,
}

/// One probe question: its options and the person's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Question id.
    pub question: String,
    /// Number of statements to choose from.
    pub options: u8,
    /// The statement the person chose.
    pub gold: u8,
}

/// What a reasoner sees and must predict for one (person, setup). Texts are rendered later from
/// the catalog, so the task holds only ids and indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTask {
    /// The person's `D_INTERVIEW`.
    pub person: i64,
    /// The probe setup (0-based).
    pub setup: usize,
    /// Statement form of the probes.
    pub probe_granularity: Granularity,
    /// Statement form of the demonstrations.
    pub demo_granularity: Granularity,
    /// How the demonstrations were drawn.
    pub demo_mode: DemoMode,
    /// The person's valid demographic statements, catalog order (empty unless asked for).
    pub demographics: Vec<DemographicStatement>,
    /// Demonstrations, in sampled order.
    pub demonstrations: Vec<Demonstration>,
    /// The probes, in setup order.
    pub probes: Vec<Probe>,
}

/// Keeps the tasks of the first `n` people in task order (all of their tasks).
///
/// ```
/// # use indievalue_sampling::{DemoMode, ProbeTask, keep_first_people};
/// # use indievalue_catalog::Granularity;
/// let task = |person| ProbeTask {
///     person, setup: 0, probe_granularity: Granularity::Polar,
///     demo_granularity: Granularity::Polar, demo_mode: DemoMode::Fixed(0),
///     demographics: vec![], demonstrations: vec![], probes: vec![],
/// };
/// let mut tasks = vec![task(4), task(4), task(2), task(9)];
/// keep_first_people(&mut tasks, 2);
/// assert_eq!(tasks.iter().map(|t| t.person).collect::<Vec<_>>(), [4, 4, 2]);
/// ```
pub fn keep_first_people(tasks: &mut Vec<ProbeTask>, n: usize) {
    let mut kept = std::collections::BTreeSet::new();
    tasks.retain(|t| (kept.len() < n && kept.insert(t.person)) || kept.contains(&t.person));
}

/// The accuracy (percent) a reasoner that picks uniformly at random expects on `tasks`: the
/// mean over their probes of one over the number of options; 0 when there are no probes.
///
/// ```
/// # use indievalue_sampling::{Probe, chance_accuracy};
/// # use indievalue_sampling::{ProbeTask, DemoMode};
/// # use indievalue_catalog::Granularity;
/// let probe = |options| Probe { question: "Q1".into(), options, gold: 0 };
/// let task = ProbeTask {
///     person: 1, setup: 0, probe_granularity: Granularity::Polar,
///     demo_granularity: Granularity::Polar, demo_mode: DemoMode::Fixed(0),
///     demographics: vec![], demonstrations: vec![], probes: vec![probe(2), probe(4)],
/// };
/// assert_eq!(chance_accuracy(&[task]), 37.5);
/// ```
pub fn chance_accuracy(tasks: &[ProbeTask]) -> f64 {
    let probes = tasks.iter().flat_map(|t| &t.probes);
    let (sum, n) = probes.fold((0.0, 0usize), |(s, n), p| {
        (s + 100.0 / f64::from(p.options.max(1)), n + 1)
    });
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The valid demographic statements of a person, catalog order.
pub(crate) fn demographic_statements(
    catalog: &Catalog,
    people: &Respondents,
    row: usize,
) -> Vec<DemographicStatement> {
    catalog
        .demographics()
        .iter()
        .enumerate()
        .filter_map(|(d, item)| {
            people
                .demographic_option(row, d)
                .map(|option| DemographicStatement {
                    item: item.id().to_owned(),
                    option,
                })
        })
        .collect()
}

/// What [`build_probe_tasks`] builds: which setups, what the demonstrations are, the probes'
/// form, and the seed.
#[derive(Debug, Clone, Copy)]
pub struct TaskSpec<'a> {
    /// The probe setups (one task per person and setup).
    pub setups: &'a [ProbeSetup],
    /// The demonstrations.
    pub demos: DemoSpec,
    /// Statement form of the probes.
    pub probe_granularity: Granularity,
    /// Seed of the demonstrations' streams.
    pub seed: u64,
}

/// Builds the probe tasks of `rows` for every setup, setup by setup, rows in the given order.
/// The demonstrations of (seed, person, setup) come from their own random stream.
pub fn build_probe_tasks(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    rows: &[usize],
    task_spec: &TaskSpec<'_>,
) -> Vec<ProbeTask> {
    build_tasks(catalog, people, answers, rows, task_spec, None)
}

/// [`build_probe_tasks`] with the demonstrations drawn only from the non-probe questions of
/// `categories` (Figure 8: what one category of statements tells about the others); the
/// probes are the setups' as always. A person with fewer answers there than asked for gets
/// all of them.
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents};
/// # use indievalue_sampling::*;
/// # let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// # let q = catalog.questions().len();
/// # let people = Respondents::from_raw(&catalog, vec![5], vec![vec![1]; q],
/// #     vec![vec![1]; catalog.demographics().len()]).unwrap();
/// # let answers = AnswerMatrix::new(&people);
/// # let setups = ProbeSetup::of_survey(&catalog);
/// let spec = DemoSpec { mode: DemoMode::Fixed(20), granularity: Granularity::Polar, demographics: false };
/// let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity: Granularity::Polar, seed: 1 };
/// let security = catalog.category_by_name("Security").unwrap();
/// let tasks = build_category_tasks(&catalog, &people, &answers, &[0], &task_spec, &[security]);
/// for d in &tasks[0].demonstrations {
///     assert_eq!(catalog.question(&d.question).unwrap().category(), security);
/// }
/// ```
pub fn build_category_tasks(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    rows: &[usize],
    task_spec: &TaskSpec<'_>,
    categories: &[Category],
) -> Vec<ProbeTask> {
    let allowed: Vec<bool> = catalog
        .questions()
        .iter()
        .map(|q| categories.contains(&q.category()))
        .collect();
    build_tasks(catalog, people, answers, rows, task_spec, Some(&allowed))
}

/// The tasks, demonstrations drawn from the non-probe questions `allowed` marks (all of them
/// with `None`).
fn build_tasks(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    rows: &[usize],
    task_spec: &TaskSpec<'_>,
    allowed: Option<&[bool]>,
) -> Vec<ProbeTask> {
    let TaskSpec {
        setups,
        demos: ref spec,
        probe_granularity,
        seed,
    } = *task_spec;
    let nq = catalog.questions().len();
    let mut tasks = Vec::with_capacity(setups.len() * rows.len());
    for setup in setups {
        let mut excluded = setup.mask(nq);
        if let Some(allowed) = allowed {
            for (q, ok) in allowed.iter().enumerate() {
                excluded[q] |= !ok;
            }
        }
        let built: Vec<ProbeTask> = rows
            .par_iter()
            .map(|&row| {
                let person = people.ids()[row];
                let mut rng = Rng::derive(
                    seed,
                    &[
                        label("probe-demonstrations"),
                        person as u64,
                        setup.index() as u64,
                    ],
                );
                let demos = Demonstrations::sample(
                    answers,
                    row,
                    &excluded,
                    spec.mode,
                    spec.granularity,
                    &mut rng,
                );
                let demographics = if spec.demographics || spec.mode == DemoMode::DemographicsOnly {
                    demographic_statements(catalog, people, row)
                } else {
                    Vec::new()
                };
                let probes = setup
                    .questions()
                    .iter()
                    .filter_map(|&q| {
                        answers.answer(row, q, probe_granularity).map(|gold| Probe {
                            question: catalog.questions()[q].id().to_string(),
                            options: catalog.questions()[q].statements(probe_granularity).len()
                                as u8,
                            gold,
                        })
                    })
                    .collect();
                ProbeTask {
                    person,
                    setup: setup.index(),
                    probe_granularity,
                    demo_granularity: spec.granularity,
                    demo_mode: spec.mode,
                    demographics,
                    demonstrations: demos
                        .items
                        .iter()
                        .map(|&(q, s)| Demonstration {
                            question: catalog.questions()[q as usize].id().to_string(),
                            statement: s,
                        })
                        .collect(),
                    probes,
                }
            })
            .collect();
        tasks.extend(built);
    }
    tasks
}

/// The first line of every task file: the catalog's [`FileHeader`] (format, catalog hash, seed,
/// writer, parameters).
pub type TaskFileHeader = FileHeader;

/// File name of the probe tasks in a task directory (written by `sample_tasks`).
pub const PROBE_TASKS_FILE: &str = "probe_tasks.jsonl";

/// `written_by` of the task and training files (`"indievalue-sampling VERSION"`): the crate that
/// made their content.
pub const WRITTEN_BY: &str = indievalue_files::written_by!();

/// Reading and writing task files: JSON Lines, a [`TaskFileHeader`] line, then one item a line.
///
/// ```
/// use indievalue_sampling::{TaskFile, TaskFileHeader, TASK_FORMAT, ProbeTask};
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tasks.jsonl");
/// let header = TaskFileHeader::new(TASK_FORMAT, &catalog, 1, "doc", serde_json::json!({}));
/// TaskFile::write(&path, &header, &Vec::<ProbeTask>::new()).unwrap();
/// let (back, tasks): (_, Vec<ProbeTask>) = TaskFile::read(&path, &catalog, TASK_FORMAT).unwrap();
/// assert_eq!(back, header);
/// assert!(tasks.is_empty());
/// ```
pub struct TaskFile;

impl TaskFile {
    /// Writes a header and items, atomically.
    pub fn write<T: Serialize>(
        path: impl AsRef<Path>,
        header: &TaskFileHeader,
        items: &[T],
    ) -> Result<()> {
        Ok(write_catalog_file(path, header, items)?)
    }

    /// Reads a file of the expected `format`, refusing one written for another catalog.
    pub fn read<T: DeserializeOwned>(
        path: impl AsRef<Path>,
        catalog: &Catalog,
        format: &str,
    ) -> Result<(TaskFileHeader, Vec<T>)> {
        Ok(read_catalog_file(path, catalog, format)?)
    }
}

/// The same tasks with probes and demonstrations at another granularity: the same questions,
/// the person's statements re-read from `answers` (people looked up by id). Tasks whose person is
/// unknown are an error.
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents};
/// # use indievalue_testdata::mini_catalog_dir;
/// # use indievalue_sampling::*;
/// # let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// # let q = catalog.questions().len();
/// # let people = Respondents::from_raw(&catalog, vec![5], vec![vec![4]; q],
/// #     vec![vec![1]; catalog.demographics().len()]).unwrap();
/// # let answers = AnswerMatrix::new(&people);
/// # let setups = ProbeSetup::of_survey(&catalog);
/// # let spec = DemoSpec { mode: DemoMode::Fixed(5), granularity: Granularity::Polar, demographics: false };
/// let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity: Granularity::Polar, seed: 1 };
/// let polar = build_probe_tasks(&catalog, &people, &answers, &[0], &task_spec);
/// let refined = retarget_tasks(&catalog, &people, &answers, &polar, Granularity::Refined).unwrap();
/// assert_eq!(refined[0].probes[0].question, polar[0].probes[0].question);
/// assert_eq!(refined[0].probe_granularity, Granularity::Refined);
/// ```
pub fn retarget_tasks(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    tasks: &[ProbeTask],
    granularity: Granularity,
) -> Result<Vec<ProbeTask>> {
    let rows = people.row_lookup();
    let index = |id: &str| {
        catalog.question_index(id).ok_or_else(|| Error::Unknown {
            what: "question",
            id: id.to_owned(),
        })
    };
    tasks
        .iter()
        .map(|t| {
            let row = rows.row(t.person).ok_or_else(|| Error::Unknown {
                what: "person",
                id: t.person.to_string(),
            })?;
            let mut out = t.clone();
            out.probe_granularity = granularity;
            out.demo_granularity = granularity;
            out.probes.clear();
            for p in &t.probes {
                let q = index(&p.question)?;
                if let Some(gold) = answers.answer(row, q, granularity) {
                    out.probes.push(Probe {
                        question: p.question.clone(),
                        options: catalog.questions()[q].statements(granularity).len() as u8,
                        gold,
                    });
                }
            }
            out.demonstrations.clear();
            for d in &t.demonstrations {
                let q = index(&d.question)?;
                if let Some(statement) = answers.answer(row, q, granularity) {
                    out.demonstrations.push(Demonstration {
                        question: d.question.clone(),
                        statement,
                    });
                }
            }
            Ok(out)
        })
        .collect()
}
