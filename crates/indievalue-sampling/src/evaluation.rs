//! The held-out evaluation set and the training pool.

use crate::{AnswerMatrix, DemoMode, Error, ProbeSetup, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity, NO_ANSWER, Respondents};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The rules of the evaluation set (§2.2, B.1), every threshold a parameter.
///
/// Selection: a person is *eligible* when they answered every probe question of every setup, at
/// least `min_valid_answers` questions, at least `min_demonstration_answers` non-probe
/// questions of every setup, and the balance item. Outside `take_all_of` a person also needs
/// `min_valid_demographics` valid demographic answers, and at most `religion_cap` people per
/// group may share one of the capped raw codes of `religion_item`. The groups of the balance
/// item (the WVS: continents) then share the places equally, water-filled: a group with fewer
/// candidates than its share gives all of them and leaves its unused places to the others. In
/// the real WVS Oceania is small, so this takes all of Oceania and splits the rest equally, as
/// the paper did; on data where Oceania is large it is not allowed to swamp the set. Within a
/// group people are taken in a seeded random order.
///
/// [`EvalCriteria::of_survey`] gives the paper's criteria on the WVS and a described survey's
/// own (`[evaluation]` of `survey.toml`: size, balance item, demographic minimum; no caps).
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
    /// The balance item's group taken whole (the WVS: Oceania).
    pub take_all_of: Option<String>,
    /// The capped item (the WVS: religion); empty for no caps.
    pub religion_item: String,
    /// Raw codes of the capped item's groups. The paper caps "eight large denominations"
    /// without naming them; the default caps every `Q289` group but Jewish (4) and "other" (9).
    pub capped_religion_codes: Vec<i32>,
    /// People per capped code per balance group.
    pub religion_cap: usize,
    /// The balance item (a demographic item's id); `None`: the survey's
    /// (`evaluation.balance_by`; the WVS: `B_COUNTRY_to_continent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_by: Option<String>,
    /// Minimum valid answers to the non-probe questions of every setup (a described survey:
    /// the demonstrations its tasks ask for).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_demonstration_answers: usize,
    /// Take every candidate when fewer than `people` qualify, instead of failing (the set's
    /// [`EvaluationSet::short`] says by how many).
    #[serde(skip)]
    pub allow_fewer: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for EvalCriteria {
    fn default() -> Self {
        EvalCriteria {
            people: 800,
            min_valid_answers: 239,
            min_valid_demographics: 24,
            take_all_of: Some("Oceania".into()),
            religion_item: "Q289".into(),
            capped_religion_codes: vec![0, 1, 2, 3, 5, 6, 7, 8],
            religion_cap: 80,
            balance_by: None,
            min_demonstration_answers: 0,
            allow_fewer: false,
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

    /// The survey's criteria: on the WVS (no `survey.toml`) the paper's, [`EvalCriteria::scaled`];
    /// on a described survey its `[evaluation]` (size, demographic minimum; balanced by its
    /// balance item; no caps), with every person needing `demonstrations` valid non-probe
    /// answers in every setup (`None`: the survey's demonstration count,
    /// [`survey_demonstrations`]).
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let c = indievalue_sampling::EvalCriteria::of_survey(&catalog, Some(10));
    /// assert_eq!(c, indievalue_sampling::EvalCriteria::scaled(&catalog));
    /// ```
    pub fn of_survey(catalog: &Catalog, demonstrations: Option<usize>) -> EvalCriteria {
        let survey = catalog.survey();
        if !survey.described {
            return EvalCriteria::scaled(catalog);
        }
        EvalCriteria {
            people: survey.evaluation.people,
            min_valid_answers: 0,
            min_valid_demographics: survey.evaluation.min_demographics,
            take_all_of: None,
            religion_item: String::new(),
            capped_religion_codes: Vec::new(),
            religion_cap: 0,
            balance_by: None,
            min_demonstration_answers: demonstrations
                .unwrap_or_else(|| survey_demonstrations(catalog)),
            allow_fewer: false,
        }
    }
}

/// The paper's number of non-probe questions per setup (253 - 39) and demonstrations (200).
const PAPER_NON_PROBE: usize = 214;
const PAPER_DEMONSTRATIONS: usize = 200;

/// The fewest non-probe questions any of the survey's setups leaves.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// assert_eq!(indievalue_sampling::non_probe_questions(&catalog), 26);
/// ```
pub fn non_probe_questions(catalog: &Catalog) -> usize {
    let total = catalog.questions().len();
    ProbeSetup::of_survey(catalog)
        .iter()
        .map(|s| total - s.questions().len())
        .min()
        .unwrap_or(total)
}

/// `demonstrations` scaled to the survey: unchanged where its setups leave at least the
/// paper's 214 non-probe questions, else the same share of what they leave (200 of 214 becomes
/// 24 of the mini catalog's 26), at least 1.
///
/// ```
/// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// assert_eq!(indievalue_sampling::scaled_demonstrations(&catalog, 200), 24);
/// ```
pub fn scaled_demonstrations(catalog: &Catalog, demonstrations: usize) -> usize {
    let available = non_probe_questions(catalog);
    if available >= PAPER_NON_PROBE {
        return demonstrations;
    }
    ((demonstrations * available) as f64 / PAPER_NON_PROBE as f64)
        .round()
        .max(1.0) as usize
}

/// The survey's demonstrations per task: the WVS's 200; a described survey's
/// `evaluation.demonstrations`, else the paper's 200 scaled ([`scaled_demonstrations`]).
pub fn survey_demonstrations(catalog: &Catalog) -> usize {
    let survey = catalog.survey();
    match survey.evaluation.demonstrations {
        Some(n) if survey.described => n,
        _ if survey.described => scaled_demonstrations(catalog, PAPER_DEMONSTRATIONS),
        _ => PAPER_DEMONSTRATIONS,
    }
}

/// The survey's default demonstration mode ([`survey_demonstrations`] fixed).
pub fn survey_demo_mode(catalog: &Catalog) -> DemoMode {
    DemoMode::Fixed(survey_demonstrations(catalog))
}

/// The balance item of `criteria` on `catalog` (its `balance_by`, else the survey's), as a
/// demographic position; `Ok(None)` when the survey balances nothing.
pub fn balance_item(catalog: &Catalog, criteria: &EvalCriteria) -> Result<Option<usize>> {
    let id = criteria
        .balance_by
        .as_ref()
        .or(catalog.survey().evaluation.balance_by.as_ref());
    match id {
        None => Ok(None),
        Some(id) => catalog
            .demographic_index(id)
            .map(Some)
            .ok_or_else(|| Error::Unknown {
                what: "balance item",
                id: id.clone(),
            }),
    }
}

/// People's groups on the survey's balance item (the WVS: continents), by row or by id: how
/// training sets and evaluations are restricted to one group (Figure 7).
///
/// ```
/// # use indievalue_catalog::{Catalog, Respondents};
/// let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
/// // Raw codes per item: the continent item reads the country codes.
/// let continent = catalog.demographic_index("B_COUNTRY_to_continent").unwrap();
/// let mut demographics = vec![vec![-1, -1]; catalog.demographics().len()];
/// demographics[continent] = vec![36, 276];
/// let people = Respondents::from_raw(&catalog, vec![5, 6],
///     vec![vec![1, 1]; catalog.questions().len()], demographics).unwrap();
/// let of = indievalue_sampling::GroupOf::balance(&catalog, &people).unwrap();
/// assert_eq!(of.name(0), Some("Oceania"));
/// assert_eq!(of.name_of_id(6), Some("Europe"));
/// assert_eq!(of.name_of_id(7), None);
/// ```
pub struct GroupOf<'a> {
    catalog: &'a Catalog,
    people: &'a Respondents,
    item: Option<usize>,
    rows: indievalue_catalog::RowLookup,
}

impl<'a> GroupOf<'a> {
    /// Groups of the survey's balance item.
    pub fn balance(catalog: &'a Catalog, people: &'a Respondents) -> Result<GroupOf<'a>> {
        Ok(GroupOf {
            catalog,
            people,
            item: balance_item(catalog, &EvalCriteria::of_survey(catalog, None))?,
            rows: people.row_lookup(),
        })
    }

    /// The group of the person in `row` (`"all"` when the survey balances nothing; `None`
    /// without a valid answer).
    pub fn name(&self, row: usize) -> Option<&'a str> {
        match self.item {
            None => Some("all"),
            Some(d) => self
                .people
                .group_of(self.catalog, d, row)
                .map(|g| self.catalog.demographics()[d].groups()[g].as_str()),
        }
    }

    /// The group of the person with this id (`None` for an unknown person too).
    pub fn name_of_id(&self, id: i64) -> Option<&'a str> {
        self.rows.row(id).and_then(|r| self.name(r))
    }
}

/// The chosen evaluation people (rows of the respondents table, ascending by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationSet {
    /// Respondent rows, in ascending id order.
    pub rows: Vec<usize>,
    /// Their ids (the survey's id column), ascending.
    pub ids: Vec<i64>,
    /// The balance item's id (`None`: one group, `"all"`).
    pub balance_by: Option<String>,
    /// Chosen people per group of the balance item.
    pub per_group: BTreeMap<String, usize>,
    /// Eligible people per group (before balancing).
    pub eligible_per_group: BTreeMap<String, usize>,
    /// Candidates per group: eligible people who also pass the demographic and cap rules (what
    /// a group could contribute at most).
    pub candidates_per_group: BTreeMap<String, usize>,
    /// How many fewer people than asked were found (only with
    /// [`EvalCriteria::allow_fewer`]; otherwise that is an error).
    pub short: usize,
}

/// The name of a person's group on the balance item (`"unknown"` without a valid answer,
/// `"all"` without a balance item).
fn group_name(catalog: &Catalog, item: Option<usize>, group: Option<usize>) -> String {
    match (item, group) {
        (None, _) => "all".to_owned(),
        (Some(d), Some(g)) => catalog.demographics()[d].groups()[g].clone(),
        (Some(_), None) => "unknown".to_owned(),
    }
}

fn group_of(
    catalog: &Catalog,
    people: &Respondents,
    item: Option<usize>,
    row: usize,
) -> Option<usize> {
    match item {
        None => Some(0),
        Some(d) => people.group_of(catalog, d, row),
    }
}

impl EvaluationSet {
    /// The evaluation set given by a list of ids (e.g. read with [`read_id_file`]), counted by
    /// the survey's balance item.
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
        let item = balance_item(catalog, &EvalCriteria::of_survey(catalog, None))?;
        Ok(EvaluationSet::from_rows(
            catalog,
            people,
            item,
            rows,
            BTreeMap::new(),
            BTreeMap::new(),
        ))
    }

    fn from_rows(
        catalog: &Catalog,
        people: &Respondents,
        item: Option<usize>,
        mut rows: Vec<usize>,
        eligible_per_group: BTreeMap<String, usize>,
        candidates_per_group: BTreeMap<String, usize>,
    ) -> EvaluationSet {
        rows.sort_by_key(|&r| people.ids()[r]);
        let mut per_group = BTreeMap::new();
        for &r in &rows {
            let name = group_name(catalog, item, group_of(catalog, people, item, r));
            *per_group.entry(name).or_insert(0) += 1;
        }
        EvaluationSet {
            ids: rows.iter().map(|&r| people.ids()[r]).collect(),
            rows,
            balance_by: item.map(|d| catalog.demographics()[d].id().to_owned()),
            per_group,
            eligible_per_group,
            candidates_per_group,
            short: 0,
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

/// Selects the evaluation set (see [`EvalCriteria`]); the same seed and data give the same set.
/// Fewer qualifying people than `criteria.people` is [`Error::Infeasible`] saying how many are
/// short, unless `criteria.allow_fewer`.
pub fn select_evaluation_set(
    catalog: &Catalog,
    people: &Respondents,
    answers: &AnswerMatrix,
    setups: &[ProbeSetup],
    criteria: &EvalCriteria,
    seed: u64,
) -> Result<EvaluationSet> {
    let nq = catalog.questions().len();
    let mut probed = vec![false; nq];
    for s in setups {
        for &q in s.questions() {
            probed[q] = true;
        }
    }
    let masks: Vec<Vec<bool>> = setups.iter().map(|s| s.mask(nq)).collect();
    let asked = criteria.min_demonstration_answers;
    for s in setups {
        let left = nq - s.questions().len();
        if asked > left {
            return Err(Error::Infeasible(format!(
                "{asked} demonstrations asked, but setup {} leaves only {left} non-probe \
                 questions ({} short): ask for fewer demonstrations or fewer probes",
                s.index() + 1,
                asked - left
            )));
        }
    }
    let item = balance_item(catalog, criteria)?;
    let groups: Vec<String> = match item {
        Some(d) => catalog.demographics()[d].groups().to_vec(),
        None => vec!["all".to_owned()],
    };
    let capped = if criteria.religion_item.is_empty() {
        None
    } else {
        catalog.demographic_index(&criteria.religion_item)
    };
    // Eligible rows per group, in ascending id order (shuffled below).
    let mut by_group: BTreeMap<Option<usize>, Vec<usize>> = BTreeMap::new();
    for p in 0..people.len() {
        let row = answers.row(p, Granularity::Polar);
        let all_probes = probed
            .iter()
            .zip(row)
            .all(|(&is_probe, &v)| !is_probe || v != NO_ANSWER);
        let demonstrable = criteria.min_demonstration_answers == 0
            || masks.iter().all(|mask| {
                mask.iter()
                    .zip(row)
                    .filter(|&(&is_probe, &v)| !is_probe && v != NO_ANSWER)
                    .count()
                    >= criteria.min_demonstration_answers
            });
        if all_probes && demonstrable && answers.valid_count(p) >= criteria.min_valid_answers {
            by_group
                .entry(group_of(catalog, people, item, p))
                .or_default()
                .push(p);
        }
    }
    let eligible_per_group = by_group
        .iter()
        .map(|(g, rows)| (group_name(catalog, item, *g), rows.len()))
        .collect();
    let ordered = |name: &str, rows: &[usize]| -> Vec<usize> {
        let mut rows: Vec<usize> = rows.to_vec();
        rows.sort_by_key(|&r| people.ids()[r]);
        let mut rng = Rng::derive(seed, &[label("evaluation-set"), label(name)]);
        rng.shuffle(&mut rows);
        rows
    };
    // Per group: the people it could contribute, in order, honouring the caps.
    let mut candidates: Vec<(String, Vec<usize>)> = Vec::new();
    for (g, name) in groups.iter().enumerate() {
        let Some(rows) = by_group.get(&Some(g)) else {
            continue;
        };
        if criteria.take_all_of.as_deref() == Some(name.as_str()) {
            candidates.push((name.clone(), ordered(name, rows)));
            continue;
        }
        let mut per_code: HashMap<i32, usize> = HashMap::new();
        let mut accepted = Vec::new();
        for r in ordered(name, rows) {
            if people.valid_demographics(r) < criteria.min_valid_demographics {
                continue;
            }
            if let Some(item) = capped {
                let code = people.demographic(item).raw[r];
                if criteria.capped_religion_codes.contains(&code) {
                    let n = per_code.entry(code).or_insert(0);
                    if *n >= criteria.religion_cap {
                        continue;
                    }
                    *n += 1;
                }
            }
            accepted.push(r);
        }
        candidates.push((name.clone(), accepted));
    }
    // Equal shares, water-filled: small groups give their unused places to the others.
    let mut remaining = criteria.people;
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
    // Places left by rounding go one by one to groups with spare people, in group order.
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
    let mut chosen: Vec<usize> = Vec::new();
    for ((_, rows), take) in candidates.iter().zip(takes) {
        chosen.extend(&rows[..take]);
    }
    if remaining > 0 && !criteria.allow_fewer {
        let balance = item.map_or(String::new(), |d| {
            format!(" (balanced by {})", catalog.demographics()[d].id())
        });
        return Err(Error::Infeasible(format!(
            "only {} of the {} evaluation people asked for satisfy the criteria{balance}: {} \
             short (eligible per group: {}); ask for fewer people or allow fewer",
            criteria.people - remaining,
            criteria.people,
            remaining,
            candidates
                .iter()
                .map(|(g, rows)| format!("{g} {}", rows.len()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let candidates_per_group = candidates
        .iter()
        .map(|(g, rows)| (g.clone(), rows.len()))
        .collect();
    let mut set = EvaluationSet::from_rows(
        catalog,
        people,
        item,
        chosen,
        eligible_per_group,
        candidates_per_group,
    );
    set.short = remaining;
    Ok(set)
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
