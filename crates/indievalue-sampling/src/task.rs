//! Probe tasks and the versioned JSON Lines task files.

use crate::{AnswerMatrix, DemoMode, DemoSpec, Demonstrations, Error, ProbeSetup, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity, Respondents};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
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

/// Builds the probe tasks of `rows` for every setup, setup by setup, rows in the given order.
/// The demonstrations of (seed, person, setup) come from their own random stream.
#[allow(clippy::too_many_arguments)]
pub fn build_probe_tasks(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    setups: &[ProbeSetup],
    rows: &[usize],
    spec: &DemoSpec,
    probe_granularity: Granularity,
    seed: u64,
) -> Vec<ProbeTask> {
    let nq = catalog.questions().len();
    let mut tasks = Vec::with_capacity(setups.len() * rows.len());
    for setup in setups {
        let excluded = setup.mask(nq);
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

/// Writes a header line and one JSON line per item, atomically.
pub(crate) fn write_json_lines<T: Serialize>(
    path: &Path,
    header: &TaskFileHeader,
    items: impl Iterator<Item = T>,
) -> Result<()> {
    indievalue_catalog::storage::write_atomic_with(path, |out| {
        serde_json::to_writer(&mut *out, header)?;
        out.write_all(b"\n")?;
        for item in items {
            serde_json::to_writer(&mut *out, &item)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
    .map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The first line of every task file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFileHeader {
    /// [`TASK_FORMAT`] or [`crate::TRAINING_FORMAT`].
    pub format: String,
    /// Content hash of the catalog the tasks refer to.
    pub catalog_hash: String,
    /// The seed.
    pub seed: u64,
    /// Crate and version that wrote the file.
    pub written_by: String,
    /// Everything else that determined the file (setups, criteria, recipe, inputs).
    pub params: serde_json::Value,
}

impl TaskFileHeader {
    /// A header for `format`, written by this crate's version.
    pub fn new(format: &str, catalog: &Catalog, seed: u64, params: serde_json::Value) -> Self {
        TaskFileHeader {
            format: format.to_owned(),
            catalog_hash: catalog.content_hash().to_owned(),
            seed,
            written_by: format!("indievalue-sampling {}", env!("CARGO_PKG_VERSION")),
            params,
        }
    }
}

/// Reading and writing task files: JSON Lines, a [`TaskFileHeader`] line, then one item a line.
///
/// ```
/// use indievalue_sampling::{TaskFile, TaskFileHeader, TASK_FORMAT, ProbeTask};
/// let catalog = indievalue_catalog::Catalog::load(indievalue_catalog::mini_catalog_dir()).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tasks.jsonl");
/// let header = TaskFileHeader::new(TASK_FORMAT, &catalog, 1, serde_json::json!({}));
/// TaskFile::write(&path, &header, &Vec::<ProbeTask>::new()).unwrap();
/// let (back, tasks): (_, Vec<ProbeTask>) = TaskFile::read(&path, &catalog, TASK_FORMAT).unwrap();
/// assert_eq!(back, header);
/// assert!(tasks.is_empty());
/// ```
pub struct TaskFile;

impl TaskFile {
    /// Writes a header and items, to a temporary sibling renamed when complete.
    pub fn write<T: Serialize>(
        path: impl AsRef<Path>,
        header: &TaskFileHeader,
        items: &[T],
    ) -> Result<()> {
        write_json_lines(path.as_ref(), header, items.iter())
    }

    /// Reads a file of the expected `format`, refusing one written for another catalog.
    pub fn read<T: DeserializeOwned>(
        path: impl AsRef<Path>,
        catalog: &Catalog,
        format: &str,
    ) -> Result<(TaskFileHeader, Vec<T>)> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut lines = std::io::BufReader::new(file).lines();
        let parse_err = |line: usize, message: String| Error::Parse {
            path: path.to_owned(),
            line,
            message,
        };
        let first = lines
            .next()
            .ok_or_else(|| parse_err(1, "empty file: no header line".into()))?
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
        let header: TaskFileHeader =
            serde_json::from_str(&first).map_err(|e| parse_err(1, format!("header: {e}")))?;
        if header.format != format {
            return Err(Error::Incompatible {
                path: path.to_owned(),
                message: format!("format {:?}, expected {format:?}", header.format),
            });
        }
        if header.catalog_hash != catalog.content_hash() {
            return Err(Error::Incompatible {
                path: path.to_owned(),
                message: format!(
                    "written for catalog {}, not {}",
                    header.catalog_hash,
                    catalog.content_hash()
                ),
            });
        }
        let mut items = Vec::new();
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            items.push(serde_json::from_str(&line).map_err(|e| parse_err(i + 2, e.to_string()))?);
        }
        Ok((header, items))
    }
}

/// The same tasks with probes and demonstrations at another granularity: the same questions,
/// the person's statements re-read from `answers` (people looked up by id). Tasks whose person is
/// unknown are an error.
///
/// ```
/// # use indievalue_catalog::{Catalog, Granularity, Respondents, mini_catalog_dir};
/// # use indievalue_sampling::*;
/// # let catalog = Catalog::load(mini_catalog_dir()).unwrap();
/// # let q = catalog.questions().len();
/// # let people = Respondents::from_raw(&catalog, vec![5], vec![vec![4]; q],
/// #     vec![vec![1]; catalog.demographics().len()]).unwrap();
/// # let answers = AnswerMatrix::new(&people);
/// # let setups = ProbeSetup::paper(&catalog);
/// # let spec = DemoSpec { mode: DemoMode::Fixed(5), granularity: Granularity::Polar, demographics: false };
/// let polar = build_probe_tasks(&catalog, &people, &answers, &setups, &[0], &spec, Granularity::Polar, 1);
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
    let rows: std::collections::HashMap<i64, usize> = people
        .ids()
        .iter()
        .enumerate()
        .map(|(r, &id)| (id, r))
        .collect();
    let index = |id: &str| {
        catalog.question_index(id).ok_or_else(|| Error::Unknown {
            what: "question",
            id: id.to_owned(),
        })
    };
    tasks
        .iter()
        .map(|t| {
            let row = *rows.get(&t.person).ok_or_else(|| Error::Unknown {
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
