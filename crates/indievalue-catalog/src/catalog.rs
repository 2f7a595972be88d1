//! The [`Catalog`] and its loader for the authors' three metadata files.

use crate::survey::{InequityDimension, SURVEY_FILE, SurveySettings, read_survey_file};
use crate::{
    Category, CodeMap, Demographic, DemographicKind, DemographicOption, Error, Granularity,
    Question, QuestionId, Result, StatementSet,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File name of the polar statement metadata.
pub const POLAR_FILE: &str = "statements_meta_data.jsonl";
/// File name of the refined statement metadata.
pub const REFINED_FILE: &str = "refined_statements_meta_data.jsonl";
/// File name of the demographic metadata.
pub const DEMOGRAPHICS_FILE: &str = "demographics_meta_data.jsonl";

/// The environment variable naming the directory of the authors' metadata (set by `.ci/run`).
pub const META_DIR_ENV: &str = "INDIEVALUE_META_DIR";

/// The metadata directory named by [`META_DIR_ENV`], if that variable is set.
///
/// Tests that need the full catalog call this and fail loudly when it is `None`.
///
/// ```
/// // In CI this is ../shared/indievalue-meta; elsewhere it may be unset.
/// let _maybe = indievalue_catalog::meta_dir_from_env();
/// ```
pub fn meta_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(META_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The metadata directory by the workspace's one convention: `given` (an example's
/// `--meta DIR`), else the directory named by [`META_DIR_ENV`], else an error naming both.
///
/// ```
/// use std::path::Path;
/// let dir = indievalue_catalog::meta_dir(Some(Path::new("meta"))).unwrap();
/// assert_eq!(dir, Path::new("meta"));
/// ```
pub fn meta_dir(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.to_owned()),
        None => meta_dir_from_env().ok_or(Error::NoMetaDir),
    }
}

/// A survey description, typed: value questions grouped in categories (the WVS's 13, or any a
/// described survey has), each with polar and refined statements; the demographic items; and
/// the survey's settings ([`SurveySettings`]: `survey.toml`, or the WVS's rules).
///
/// ```
/// use indievalue_catalog::{Catalog, Category, Granularity};
/// use indievalue_testdata::mini_catalog_dir;
/// let catalog = Catalog::load(mini_catalog_dir())?;
/// let q = catalog.question("V1").expect("V1 exists");
/// assert_eq!(catalog.category_name(q.category()), "Social Values, Attitudes & Stereotypes");
/// let code = q.valid_codes().next().unwrap();
/// let option = q.statements(Granularity::Polar).statement_for_code(code.into()).unwrap();
/// println!("{}", q.statements(Granularity::Polar).statement(option as usize));
/// let security = catalog.category_by_name("Security").unwrap();
/// assert_eq!(catalog.by_category(security).count(), 5);
/// assert_eq!(catalog.survey().id_column, "D_INTERVIEW");
/// # Ok::<(), indievalue_catalog::Error>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    questions: Vec<Question>,
    demographics: Vec<Demographic>,
    categories: Vec<String>,
    #[serde(skip)]
    survey: SurveySettings,
    #[serde(skip)]
    question_index: HashMap<QuestionId, usize>,
    #[serde(skip)]
    demographic_index: HashMap<String, usize>,
    #[serde(skip)]
    content_hash: String,
}

#[derive(Deserialize)]
struct StatementLine {
    question_id: String,
    #[serde(default)]
    original_question: String,
    question_category: String,
    question_type: String,
    answer_ids: Vec<Vec<i64>>,
    answer_ids_to_grouped_answer_ids: BTreeMap<String, i64>,
    converted_statements: Vec<String>,
}

#[derive(Deserialize)]
struct DemographicLine {
    question_id: String,
    question_id_converted: String,
    question_category: String,
    statement_template: String,
    #[serde(default)]
    converted_statements: Vec<String>,
    #[serde(default)]
    answer_vars_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    answer_ids: Option<Vec<Vec<i64>>>,
    #[serde(default)]
    answer_ids_to_grouped_answer_ids: Option<BTreeMap<String, i64>>,
    #[serde(default)]
    answer_vars: Option<Vec<String>>,
}

fn read_file(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingFile {
            path: path.to_owned(),
        }),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Parses the JSON lines of a file, skipping blank lines; returns (1-based line number, value).
fn parse_lines<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<Vec<(usize, T)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|source| Error::Json {
            path: path.to_owned(),
            line: i + 1,
            source,
        })?;
        out.push((i + 1, value));
    }
    if out.is_empty() {
        return Err(Error::Invalid {
            path: path.to_owned(),
            line: 1,
            message: "file holds no metadata line".into(),
        });
    }
    Ok(out)
}

/// Validates a code -> option map against `answer_ids` and the number of options, and builds a
/// [`CodeMap`]. `what` names the item in messages.
fn build_code_map(
    path: &Path,
    line: usize,
    what: &str,
    map: &BTreeMap<String, i64>,
    answer_ids: Option<&[Vec<i64>]>,
    options: usize,
) -> Result<CodeMap> {
    let invalid = |message: String| Error::Invalid {
        path: path.to_owned(),
        line,
        message: format!("{what}: {message}"),
    };
    if options == 0 {
        return Err(invalid("has no statement".into()));
    }
    if options > u16::MAX as usize - 1 {
        return Err(invalid(format!("has {options} options, too many")));
    }
    let mut pairs = Vec::with_capacity(map.len());
    let mut reached = vec![false; options];
    for (code_text, &option) in map {
        let code: i32 = code_text
            .trim()
            .parse()
            .map_err(|_| invalid(format!("raw code {code_text:?} is not an integer")))?;
        if option < 0 || option as usize >= options {
            return Err(invalid(format!(
                "raw code {code} maps to statement {option}, but there are only {options} statements"
            )));
        }
        reached[option as usize] = true;
        pairs.push((code, option as u16));
    }
    if let Some(unreached) = reached.iter().position(|r| !r) {
        return Err(invalid(format!(
            "statement {unreached} is not reachable from any raw code"
        )));
    }
    if let Some(groups) = answer_ids {
        if groups.len() != options {
            return Err(invalid(format!(
                "answer_ids has {} groups but there are {options} statements",
                groups.len()
            )));
        }
        let mut listed = 0usize;
        for (option, codes) in groups.iter().enumerate() {
            for &code in codes {
                listed += 1;
                let mapped = map.get(&code.to_string());
                if mapped != Some(&(option as i64)) {
                    return Err(invalid(format!(
                        "answer_ids puts raw code {code} in group {option}, but \
                         answer_ids_to_grouped_answer_ids maps it to {mapped:?}"
                    )));
                }
            }
        }
        if listed != map.len() {
            return Err(invalid(format!(
                "answer_ids lists {listed} codes but answer_ids_to_grouped_answer_ids has {}",
                map.len()
            )));
        }
    }
    Ok(CodeMap::new(&pairs))
}

/// One parsed line of a statement file.
struct ParsedQuestion {
    line: usize,
    id: String,
    category: String,
    question_type: String,
    text: String,
    statements: StatementSet,
}

fn parse_statements(path: &Path, text: &str) -> Result<Vec<ParsedQuestion>> {
    let mut out = Vec::new();
    for (line, raw) in parse_lines::<StatementLine>(path, text)? {
        if raw.question_category.trim().is_empty() {
            return Err(Error::Invalid {
                path: path.to_owned(),
                line,
                message: format!("question {}: empty question_category", raw.question_id),
            });
        }
        if raw.question_id.trim().is_empty() {
            return Err(Error::Invalid {
                path: path.to_owned(),
                line,
                message: "empty question_id".into(),
            });
        }
        let what = format!("question {}", raw.question_id);
        let codes = build_code_map(
            path,
            line,
            &what,
            &raw.answer_ids_to_grouped_answer_ids,
            Some(&raw.answer_ids),
            raw.converted_statements.len(),
        )?;
        if raw.converted_statements.len() > 254 {
            return Err(Error::Invalid {
                path: path.to_owned(),
                line,
                message: format!("{what}: more than 254 statements"),
            });
        }
        out.push(ParsedQuestion {
            line,
            id: raw.question_id,
            category: raw.question_category,
            question_type: raw.question_type,
            text: raw.original_question,
            statements: StatementSet::new(raw.converted_statements, codes),
        });
    }
    Ok(out)
}

fn parse_demographics(path: &Path, text: &str) -> Result<Vec<Demographic>> {
    let mut out: Vec<Demographic> = Vec::new();
    for (line, raw) in parse_lines::<DemographicLine>(path, text)? {
        let invalid = |message: String| Error::Invalid {
            path: path.to_owned(),
            line,
            message: format!("demographic {}: {message}", raw.question_id),
        };
        if out.iter().any(|d| d.id == raw.question_id) {
            return Err(invalid("appears twice".into()));
        }
        let what = format!("demographic {}", raw.question_id);
        let (kind, options, codes) = if let Some(names) = &raw.answer_vars_map {
            if !raw.statement_template.contains("{answer_var}") {
                return Err(invalid(
                    "statement_template of a code list lacks {answer_var}".into(),
                ));
            }
            let mut entries = Vec::with_capacity(names.len());
            for (code_text, name) in names {
                let code: i32 = code_text
                    .trim()
                    .parse()
                    .map_err(|_| invalid(format!("raw code {code_text:?} is not an integer")))?;
                entries.push((code, name.clone()));
            }
            entries.sort();
            if entries.is_empty() {
                return Err(invalid("answer_vars_map is empty".into()));
            }
            let pairs: Vec<(i32, u16)> = entries
                .iter()
                .enumerate()
                .map(|(i, &(c, _))| (c, i as u16))
                .collect();
            let options = entries
                .into_iter()
                .map(|(_, name)| DemographicOption {
                    statement: raw.statement_template.replace("{answer_var}", &name),
                    label: name,
                })
                .collect::<Vec<_>>();
            (DemographicKind::CodeList, options, CodeMap::new(&pairs))
        } else {
            let map = raw
                .answer_ids_to_grouped_answer_ids
                .as_ref()
                .ok_or_else(|| {
                    invalid(
                    "has neither answer_vars_map (code list) nor answer_ids_to_grouped_answer_ids \
                     (multiple choice)"
                        .into(),
                )
                })?;
            let n = raw.converted_statements.len();
            let codes = build_code_map(path, line, &what, map, raw.answer_ids.as_deref(), n)?;
            let labels = match &raw.answer_vars {
                Some(vars) if vars.len() == n => vars.clone(),
                _ => raw.converted_statements.clone(),
            };
            let options = raw
                .converted_statements
                .iter()
                .zip(labels)
                .map(|(statement, label)| DemographicOption {
                    label,
                    statement: statement.clone(),
                })
                .collect();
            (DemographicKind::MultipleChoice, options, codes)
        };
        out.push(Demographic::new(
            raw.question_id.clone(),
            raw.question_id_converted.clone(),
            raw.question_category.clone(),
            kind,
            raw.statement_template.clone(),
            options,
            codes,
        ));
    }
    Ok(out)
}

impl Catalog {
    /// Loads and validates a survey description: the three metadata files of a directory and
    /// its `survey.toml` if there is one (without one, the WVS with the paper's rules:
    /// [`SurveySettings::wvs`]).
    ///
    /// Validation: both statement files parse, agree line by line on question id, category, type
    /// and valid raw codes; every raw code maps to an existing statement and every statement is
    /// reachable; question ids are unique; demographic items are well formed. Categories are the
    /// distinct `question_category` strings in order of first appearance. `survey.toml`'s keys
    /// are known ones and its values possible for the metadata (the balance item and the
    /// inequity dimensions are demographic items, no category has fewer questions than
    /// `probes.per_category`, ...). Errors name file and line, or file and key.
    ///
    /// ```
    /// let catalog = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir())?;
    /// assert_eq!(catalog.questions().len(), 65);
    /// assert_eq!(catalog.demographics().len(), 31);
    /// # Ok::<(), indievalue_catalog::Error>(())
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Catalog> {
        let dir = dir.as_ref();
        let polar_path = dir.join(POLAR_FILE);
        let refined_path = dir.join(REFINED_FILE);
        let demo_path = dir.join(DEMOGRAPHICS_FILE);
        let polar_text = read_file(&polar_path)?;
        let refined_text = read_file(&refined_path)?;
        let demo_text = read_file(&demo_path)?;
        let polar = parse_statements(&polar_path, &polar_text)?;
        let refined = parse_statements(&refined_path, &refined_text)?;
        let demographics = parse_demographics(&demo_path, &demo_text)?;

        let disagree = |line: usize, message: String| Error::Disagree {
            polar: polar_path.clone(),
            refined: refined_path.clone(),
            line,
            message,
        };
        if polar.len() != refined.len() {
            let line = polar
                .get(refined.len().min(polar.len()))
                .or_else(|| refined.get(polar.len()))
                .map_or(1, |p| p.line);
            return Err(disagree(
                line,
                format!(
                    "{} questions in the polar file, {} in the refined file",
                    polar.len(),
                    refined.len()
                ),
            ));
        }
        let mut questions = Vec::with_capacity(polar.len());
        let mut question_index = HashMap::new();
        let mut categories: Vec<String> = Vec::new();
        for (p, r) in polar.into_iter().zip(refined) {
            let ParsedQuestion {
                line,
                id,
                category,
                question_type,
                text,
                statements: polar_set,
            } = p;
            let ParsedQuestion {
                id: r_id,
                category: r_category,
                question_type: r_type,
                statements: refined_set,
                ..
            } = r;
            if id != r_id {
                return Err(disagree(
                    line,
                    format!("question id {id} (polar) vs {r_id} (refined)"),
                ));
            }
            if category != r_category {
                return Err(disagree(
                    line,
                    format!("question {id}: category {category} (polar) vs {r_category} (refined)"),
                ));
            }
            if question_type != r_type {
                return Err(disagree(
                    line,
                    format!("question {id}: type {question_type} (polar) vs {r_type} (refined)"),
                ));
            }
            let pc: Vec<i32> = polar_set.code_map().pairs().iter().map(|p| p.0).collect();
            let rc: Vec<i32> = refined_set.code_map().pairs().iter().map(|p| p.0).collect();
            if pc != rc {
                return Err(disagree(
                    line,
                    format!("question {id}: valid raw codes {pc:?} (polar) vs {rc:?} (refined)"),
                ));
            }
            let category = match categories.iter().position(|c| *c == category) {
                Some(i) => Category::from_index(i),
                None => {
                    categories.push(category);
                    Category::from_index(categories.len() - 1)
                }
            };
            let qid = QuestionId::new(id.clone());
            if question_index
                .insert(qid.clone(), questions.len())
                .is_some()
            {
                return Err(Error::Invalid {
                    path: polar_path.clone(),
                    line,
                    message: format!("question {id} appears twice"),
                });
            }
            questions.push(Question {
                id: qid,
                category,
                question_type,
                text,
                polar: polar_set,
                refined: refined_set,
            });
        }

        let demographic_index = demographics
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let survey_path = dir.join(SURVEY_FILE);
        let mut catalog = Catalog {
            questions,
            demographics,
            categories,
            survey: SurveySettings::wvs(),
            question_index,
            demographic_index,
            content_hash: String::new(),
        };
        if survey_path.exists() {
            let default_name = dir
                .file_name()
                .map_or_else(|| "survey".to_owned(), |n| n.to_string_lossy().into_owned());
            let (settings, dimensions) = read_survey_file(&survey_path, &default_name)?;
            catalog.survey = catalog.check_survey(&survey_path, settings, dimensions)?;
        }
        catalog.content_hash = catalog.compute_hash();
        Ok(catalog)
    }

    /// Checks a `survey.toml`'s values against the metadata and fills in the inequity
    /// dimensions' display names (the items' labels).
    fn check_survey(
        &self,
        path: &Path,
        mut settings: SurveySettings,
        dimensions: Option<Vec<String>>,
    ) -> Result<SurveySettings> {
        let bad = |key: &str, message: String| Error::Survey {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let items = || {
            self.demographics
                .iter()
                .map(|d| d.id())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if settings.id_column.trim().is_empty() {
            return Err(bad("id_column", "is empty".into()));
        }
        if settings.probes.setups == 0 {
            return Err(bad("probes.setups", "must be at least 1".into()));
        }
        if settings.probes.per_category == 0 {
            return Err(bad("probes.per_category", "must be at least 1".into()));
        }
        for (i, name) in self.categories.iter().enumerate() {
            let size = self.by_category(Category::from_index(i)).count();
            if size < settings.probes.per_category {
                return Err(bad(
                    "probes.per_category",
                    format!(
                        "{} probe questions per category, but category {name:?} has only {size} \
                         question{} ({} short)",
                        settings.probes.per_category,
                        if size == 1 { "" } else { "s" },
                        settings.probes.per_category - size
                    ),
                ));
            }
        }
        if settings.evaluation.people == 0 {
            return Err(bad("evaluation.people", "must be at least 1".into()));
        }
        if let Some(item) = &settings.evaluation.balance_by
            && self.demographic(item).is_none()
        {
            return Err(bad(
                "evaluation.balance_by",
                format!("{item:?} is not a demographic item (items: {})", items()),
            ));
        }
        if settings.evaluation.min_demographics > self.demographics.len() {
            return Err(bad(
                "evaluation.min_demographics",
                format!(
                    "{} valid demographic answers asked, but the survey has {} items",
                    settings.evaluation.min_demographics,
                    self.demographics.len()
                ),
            ));
        }
        let dimensions = dimensions.unwrap_or_else(|| {
            self.demographics
                .iter()
                .map(|d| d.id().to_owned())
                .collect()
        });
        for (i, item) in dimensions.iter().enumerate() {
            let Some(d) = self.demographic(item) else {
                return Err(bad(
                    &format!("inequity.dimensions[{i}]"),
                    format!("{item:?} is not a demographic item (items: {})", items()),
                ));
            };
            settings.inequity.push(InequityDimension {
                name: d.label().to_owned(),
                item: item.clone(),
            });
        }
        for long in settings.short_names.keys() {
            if self.category_by_name(long).is_none() {
                return Err(bad(
                    &format!("categories.short_names.{long:?}"),
                    format!(
                        "not a category (categories: {})",
                        self.categories.join("; ")
                    ),
                ));
            }
        }
        Ok(settings)
    }

    fn compute_hash(&self) -> String {
        // Serialising our own typed structures never fails. A described survey's id column is
        // part of its data files, so it is part of the hash; the WVS's is implied.
        let bytes = if self.survey.described {
            serde_json::to_vec(&(
                &self.questions,
                &self.demographics,
                &self.categories,
                &self.survey.id_column,
            ))
        } else {
            serde_json::to_vec(&(&self.questions, &self.demographics, &self.categories))
        }
        .unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A SHA-256 over the catalog's typed content (hex), recorded in every respondents file so that
    /// a file is never read against a different catalog.
    ///
    /// ```
    /// let c = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// assert_eq!(c.content_hash().len(), 64);
    /// ```
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// All value questions, in metadata order.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// A question by id.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.question_index(id).map(|i| &self.questions[i])
    }

    /// The position of a question in [`Catalog::questions`].
    ///
    /// ```
    /// let c = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// assert_eq!(c.question_index("V1"), Some(0));
    /// assert_eq!(c.question_index("nope"), None);
    /// ```
    pub fn question_index(&self, id: &str) -> Option<usize> {
        self.question_index.get(&QuestionId::new(id)).copied()
    }

    /// The questions of a category with their positions, in metadata order.
    pub fn by_category(&self, category: Category) -> impl Iterator<Item = (usize, &Question)> {
        self.questions
            .iter()
            .enumerate()
            .filter(move |(_, q)| q.category == category)
    }

    /// The categories, in order of first appearance in the metadata (every one has questions).
    pub fn categories(&self) -> Vec<Category> {
        (0..self.categories.len())
            .map(Category::from_index)
            .collect()
    }

    /// A category's name as the metadata spells it (`question_category`).
    pub fn category_name(&self, category: Category) -> &str {
        self.categories
            .get(category.index())
            .map_or("(unknown category)", String::as_str)
    }

    /// A category's shorter display name for figures: the survey's `[categories] short_names`
    /// (the paper's Figure 2 names on the WVS), else its name.
    ///
    /// ```
    /// let c = indievalue_catalog::Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    /// let capital = c.category_by_name("Social Capital, Trust & Organizational Membership").unwrap();
    /// assert_eq!(c.category_short_name(capital), "Social Capital & Trust");
    /// ```
    pub fn category_short_name(&self, category: Category) -> &str {
        let name = self.category_name(category);
        self.survey
            .short_names
            .get(name)
            .map_or(name, String::as_str)
    }

    /// The category of a metadata name; `None` for a name no question has.
    pub fn category_by_name(&self, name: &str) -> Option<Category> {
        self.categories
            .iter()
            .position(|c| c == name)
            .map(Category::from_index)
    }

    /// The survey's settings: its `survey.toml`, or the WVS's rules.
    pub fn survey(&self) -> &SurveySettings {
        &self.survey
    }

    /// All demographic items, in metadata order.
    pub fn demographics(&self) -> &[Demographic] {
        &self.demographics
    }

    /// A demographic item by id.
    pub fn demographic(&self, id: &str) -> Option<&Demographic> {
        self.demographic_index(id).map(|i| &self.demographics[i])
    }

    /// The position of a demographic item in [`Catalog::demographics`].
    pub fn demographic_index(&self, id: &str) -> Option<usize> {
        self.demographic_index.get(id).copied()
    }

    /// Number of statements of every question at a granularity, in metadata order.
    pub fn statement_counts(&self, granularity: Granularity) -> Vec<usize> {
        self.questions
            .iter()
            .map(|q| q.statements(granularity).len())
            .collect()
    }
}
