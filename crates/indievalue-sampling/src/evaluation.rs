//! The held-out evaluation set and the training pool.

use crate::{AnswerMatrix, Error, ProbeSetup, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Continent, Respondents};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The rules of the evaluation set (§2.2, B.1), every threshold a parameter.
///
/// Selection: a person is *eligible* when they answered every probe question of every setup and
/// at least `min_valid_answers` questions. Outside `take_all_of` (Oceania) a person also needs
/// `min_valid_demographics` valid demographic answers, and at most `religion_cap` people per
/// continent may share one of the capped raw codes of `religion_item`. The continents then share
/// the places equally, water-filled: a continent with fewer candidates than its share gives all
/// of them and leaves its unused places to the others. In the real survey Oceania is small, so
/// this takes all of Oceania and splits the rest equally, as the paper did; on data where Oceania
/// is large it is not allowed to swamp the set. Within a continent people are taken in a seeded
/// random order.
///
/// ```
/// let c = indievalue_sampling::EvalCriteria::default();
/// assert_eq!((c.people, c.min_valid_answers, c.min_valid_demographics, c.religion_cap),
///            (800, 239, 24, 80));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalCriteria {
    /// Size of the evaluation set.
    pub people: usize,
    /// Minimum valid value answers.
    pub min_valid_answers: usize,
    /// Minimum valid demographic answers (outside `take_all_of`).
    pub min_valid_demographics: usize,
    /// The continent taken whole.
    pub take_all_of: Option<Continent>,
    /// The religion item.
    pub religion_item: String,
    /// Raw codes of the capped denominations. The paper caps "eight large denominations"
    /// without naming them; the default caps every `Q289` group but Jewish (4) and "other" (9).
    pub capped_religion_codes: Vec<i32>,
    /// People per capped denomination per continent.
    pub religion_cap: usize,
}

impl Default for EvalCriteria {
    fn default() -> Self {
        EvalCriteria {
            people: 800,
            min_valid_answers: 239,
            min_valid_demographics: 24,
            take_all_of: Some(Continent::Oceania),
            religion_item: "Q289".into(),
            capped_religion_codes: vec![0, 1, 2, 3, 5, 6, 7, 8],
            religion_cap: 80,
        }
    }
}

impl EvalCriteria {
    /// The paper's criteria with `min_valid_answers` scaled to the catalog's size (239 of 253).
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// assert_eq!(indievalue_sampling::EvalCriteria::scaled(&catalog).min_valid_answers, 61);
    /// ```
    pub fn scaled(catalog: &Catalog) -> EvalCriteria {
        let nq = catalog.questions().len();
        EvalCriteria {
            min_valid_answers: (nq * 239 + 126) / 253,
            ..Default::default()
        }
    }
}

/// The chosen evaluation people (rows of the respondents table, ascending by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationSet {
    /// Respondent rows, in ascending id order.
    pub rows: Vec<usize>,
    /// Their `D_INTERVIEW` ids, ascending.
    pub ids: Vec<i64>,
    /// Chosen people per continent.
    pub per_continent: BTreeMap<String, usize>,
    /// Eligible people per continent (before balancing).
    pub eligible_per_continent: BTreeMap<String, usize>,
    /// Candidates per continent: eligible people who also pass the demographic and religion
    /// rules (what a continent could contribute at most).
    pub candidates_per_continent: BTreeMap<String, usize>,
}

impl EvaluationSet {
    /// The evaluation set given by a list of ids (e.g. read with [`read_id_file`]).
    pub fn from_ids(catalog: &Catalog, people: &Respondents, ids: &[i64]) -> Result<EvaluationSet> {
        let index = people.row_lookup();
        let mut rows = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = index.row(id).ok_or_else(|| Error::Unknown {
                what: "person",
                id: id.to_string(),
            })?;
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        Ok(EvaluationSet::from_rows(
            catalog,
            people,
            rows,
            BTreeMap::new(),
            BTreeMap::new(),
        ))
    }

    fn from_rows(
        catalog: &Catalog,
        people: &Respondents,
        mut rows: Vec<usize>,
        eligible_per_continent: BTreeMap<String, usize>,
        candidates_per_continent: BTreeMap<String, usize>,
    ) -> EvaluationSet {
        rows.sort_by_key(|&r| people.ids()[r]);
        let mut per_continent = BTreeMap::new();
        for &r in &rows {
            *per_continent
                .entry(continent_name(people.continent(catalog, r)))
                .or_insert(0) += 1;
        }
        EvaluationSet {
            ids: rows.iter().map(|&r| people.ids()[r]).collect(),
            rows,
            per_continent,
            eligible_per_continent,
            candidates_per_continent,
        }
    }

    /// Everyone else: the training pool (rows, ascending).
    pub fn training_rows(&self, people: usize) -> Vec<usize> {
        let mut held_out = vec![false; people];
        for &r in &self.rows {
            held_out[r] = true;
        }
        (0..people).filter(|&r| !held_out[r]).collect()
    }
}

fn continent_name(c: Option<Continent>) -> String {
    c.map_or("unknown", Continent::name).to_owned()
}

/// Selects the evaluation set (see [`EvalCriteria`]); the same seed and data give the same set.
pub fn select_evaluation_set(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    setups: &[ProbeSetup],
    criteria: &EvalCriteria,
    seed: u64,
) -> Result<EvaluationSet> {
    let mut probed = vec![false; catalog.questions().len()];
    for s in setups {
        for &q in s.questions() {
            probed[q] = true;
        }
    }
    let religion = catalog.demographic_index(&criteria.religion_item);
    let valid_demographics: Vec<usize> = (0..people.len())
        .map(|p| people.valid_demographics(p))
        .collect();
    // Eligible rows per continent, in ascending id order (shuffled below).
    let mut by_continent: BTreeMap<Option<Continent>, Vec<usize>> = BTreeMap::new();
    for p in 0..people.len() {
        let row = answers.row(p, indievalue_catalog::Granularity::Polar);
        let all_probes = probed
            .iter()
            .zip(row)
            .all(|(&is_probe, &v)| !is_probe || v != indievalue_catalog::NO_ANSWER);
        if all_probes && answers.valid_count(p) >= criteria.min_valid_answers {
            by_continent
                .entry(people.continent(catalog, p))
                .or_default()
                .push(p);
        }
    }
    let eligible_per_continent = by_continent
        .iter()
        .map(|(c, rows)| (continent_name(*c), rows.len()))
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    let ordered = |continent: Option<Continent>, rows: &[usize]| -> Vec<usize> {
        let mut rows: Vec<usize> = rows.to_vec();
        rows.sort_by_key(|&r| people.ids()[r]);
        let mut rng = Rng::derive(
            seed,
            &[label("evaluation-set"), label(&continent_name(continent))],
        );
        rng.shuffle(&mut rows);
        rows
    };
    let whole = criteria.take_all_of;
    let mut remaining = criteria.people;
    // Per continent: the people it could contribute, in order, honouring the caps.
    let mut candidates: Vec<(Continent, Vec<usize>)> = Vec::new();
    for continent in Continent::ALL {
        let Some(rows) = by_continent.get(&Some(continent)) else {
            continue;
        };
        if Some(continent) == whole {
            candidates.push((continent, ordered(Some(continent), rows)));
            continue;
        }
        let mut per_religion: HashMap<i32, usize> = HashMap::new();
        let mut accepted = Vec::new();
        for r in ordered(Some(continent), rows) {
            if valid_demographics[r] < criteria.min_valid_demographics {
                continue;
            }
            if let Some(item) = religion {
                let code = people.demographic(item).raw[r];
                if criteria.capped_religion_codes.contains(&code) {
                    let n = per_religion.entry(code).or_insert(0);
                    if *n >= criteria.religion_cap {
                        continue;
                    }
                    *n += 1;
                }
            }
            accepted.push(r);
        }
        candidates.push((continent, accepted));
    }
    // Equal shares, water-filled: small continents give their unused places to the others.
    let mut takes = vec![0usize; candidates.len()];
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| (candidates[i].1.len(), i));
    let mut left = order.len();
    for &i in &order {
        let share = remaining / left.max(1);
        takes[i] = share.min(candidates[i].1.len());
        remaining -= takes[i];
        left -= 1;
    }
    // Places left by rounding go one by one to continents with spare people, in continent order.
    let mut progress = true;
    while remaining > 0 && progress {
        progress = false;
        for (i, (_, rows)) in candidates.iter().enumerate() {
            if remaining > 0 && takes[i] < rows.len() {
                takes[i] += 1;
                remaining -= 1;
                progress = true;
            }
        }
    }
    for ((_, rows), take) in candidates.iter().zip(takes) {
        chosen.extend(&rows[..take]);
    }
    if remaining > 0 {
        return Err(Error::Infeasible(format!(
            "only {} of {} evaluation people satisfy the criteria",
            criteria.people - remaining,
            criteria.people
        )));
    }
    let candidates_per_continent = candidates
        .iter()
        .map(|(c, rows)| (c.name().to_owned(), rows.len()))
        .collect();
    Ok(EvaluationSet::from_rows(
        catalog,
        people,
        chosen,
        eligible_per_continent,
        candidates_per_continent,
    ))
}

/// File name of the evaluation set's ids in a task directory.
pub const EVAL_IDS_FILE: &str = "eval_ids.txt";

/// Writes ids one per line (atomically).
pub fn write_id_file(path: impl AsRef<Path>, ids: &[i64]) -> Result<()> {
    let path = path.as_ref();
    Ok(indievalue_files::write_atomic_with(path, |out| {
        for id in ids {
            writeln!(out, "{id}")?;
        }
        Ok(())
    })?)
}

/// Reads ids, one per line (blank lines and `#` comments ignored).
pub fn read_id_file(path: impl AsRef<Path>) -> Result<Vec<i64>> {
    let path = path.as_ref();
    let text = indievalue_files::read_to_string(path)?;
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        ids.push(line.parse().map_err(|_| Error::Parse {
            path: path.to_owned(),
            line: i + 1,
            message: format!("{line:?} is not a person id"),
        })?);
    }
    Ok(ids)
}
