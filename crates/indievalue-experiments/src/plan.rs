//! The plan file: what data, which reasoners, which experiments.
//!
//! ```toml
//! name = "small"
//! seed = 0
//!
//! [data]                       # exactly one of synthetic, csv, dataset
//! synthetic = { people = 3000 }
//! # csv = "WVS_Cross-National_Wave_7_csv_v6_0.csv"
//! # dataset = "data/"          # a directory convert wrote
//! # meta = "meta_data/"        # default: INDIEVALUE_META_DIR, else the embedded mini catalog
//!
//! [evaluation]
//! people = 60                  # the evaluation set (the paper: 800)
//! demonstrations = 200         # per task, scaled to the catalog's non-probe questions
//! bootstrap = 1000             # resamples of people for the intervals (0: none)
//! top_k = 24                   # the resemble cluster reported in Table 4
//! max_k = 35                   # the Table 20 sweep
//! learned = true               # the learned reasoners too, on the main tasks (weighted, logistic,
//!                              # latent, blend and the recommended one; not in the ablations)
//!
//! [[reasoner]]
//! name = "smollm2"
//! model = ".cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
//! mode = "score-statement"     # score-label, score-answer, score-statement, generate
//! people = 3                   # only the first evaluation people
//!
//! [[experiment]]
//! kind = "accuracy"            # Table 4 / Table 15, Figure 2
//! reasoners = ["baselines", "smollm2"]
//! ```
//!
//! Relative paths are relative to the current directory.

use crate::{Error, Result};
use indievalue_catalog::Catalog;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The embedded default plan (`plans/small.toml`).
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../plans/small.toml");

/// The name of the statistical baselines as a reasoner (Random, Global, Resemble top 1 and top
/// k, and on a synthetic survey the exact Bayes ceiling).
pub const BASELINES: &str = "baselines";

/// A plan: the data, the reasoners and the experiments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan's name (shown in the report).
    pub name: String,
    /// Seed of the evaluation set, the demonstrations and the bootstrap.
    #[serde(default)]
    pub seed: u64,
    /// The data.
    pub data: DataSpec,
    /// The evaluation set and the tasks.
    #[serde(default)]
    pub evaluation: EvaluationSpec,
    /// Language-model reasoners (the baselines are always available as `baselines`).
    #[serde(default, rename = "reasoner")]
    pub reasoners: Vec<ReasonerSpec>,
    /// The experiments, in report order.
    #[serde(rename = "experiment")]
    pub experiments: Vec<ExperimentSpec>,
    /// Where the plan came from (a file name or `embedded default`).
    #[serde(skip)]
    pub source: String,
}

/// Where the survey comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DataSpec {
    /// A synthetic survey generated over the catalog.
    pub synthetic: Option<SyntheticSpec>,
    /// The raw WVS Wave 7 CSV.
    pub csv: Option<PathBuf>,
    /// A converted dataset directory (`convert --out`).
    pub dataset: Option<PathBuf>,
    /// The statement metadata directory.
    pub meta: Option<PathBuf>,
}

/// A synthetic survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticSpec {
    /// People.
    pub people: usize,
    /// Seed of the synthetic people (default: the plan's seed).
    pub seed: Option<u64>,
}

/// The evaluation set and the tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationSpec {
    /// People in the evaluation set.
    #[serde(default = "default_people")]
    pub people: usize,
    /// Demonstrations per task, as the paper counts them (of 214 non-probe questions); scaled
    /// to a smaller catalog.
    #[serde(default = "default_demonstrations")]
    pub demonstrations: usize,
    /// Bootstrap resamples of people for the intervals (0: none).
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    /// The resemble cluster size reported as "top cluster".
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    /// The largest k of the Table 20 sweep.
    #[serde(default = "default_max_k")]
    pub max_k: usize,
    /// Whether the baselines on the main tasks also fit the learned reasoners
    /// (similarity-weighted neighbours, per-question logistic regression, latent classes, their
    /// blend) on the training pool and name the recommended one; the ablations' task sets keep
    /// the paper's baselines.
    #[serde(default = "default_learned")]
    pub learned: bool,
}

fn default_people() -> usize {
    800
}
fn default_demonstrations() -> usize {
    200
}
fn default_bootstrap() -> usize {
    1000
}
fn default_top_k() -> usize {
    24
}
fn default_max_k() -> usize {
    35
}
fn default_learned() -> bool {
    true
}

impl Default for EvaluationSpec {
    fn default() -> Self {
        EvaluationSpec {
            people: default_people(),
            demonstrations: default_demonstrations(),
            bootstrap: default_bootstrap(),
            top_k: default_top_k(),
            max_k: default_max_k(),
            learned: default_learned(),
        }
    }
}

/// The paper's number of non-probe questions per setup (253 - 39).
pub const PAPER_DEMO_QUESTIONS: usize = 214;

impl EvaluationSpec {
    /// The demonstrations per task on `catalog`, and a note when the count was scaled: a
    /// catalog with fewer non-probe questions per setup than the paper's 214 gets the same
    /// share of its own (200 of 214 becomes 24 of the mini catalog's 26;
    /// [`indievalue_sampling::scaled_demonstrations`]).
    pub fn demonstrations_for(&self, catalog: &Catalog) -> (usize, Option<String>) {
        let available = indievalue_sampling::non_probe_questions(catalog);
        let scaled = indievalue_sampling::scaled_demonstrations(catalog, self.demonstrations);
        if available >= PAPER_DEMO_QUESTIONS {
            return (scaled, None);
        }
        let note = format!(
            "{} demonstrations scaled to {scaled}: the catalog leaves {available} non-probe \
             questions per setup (the paper's has {PAPER_DEMO_QUESTIONS})",
            self.demonstrations
        );
        (scaled, Some(note))
    }
}

/// A local language model as a reasoner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonerSpec {
    /// The name experiments refer to it by.
    pub name: String,
    /// The label in tables (default: the name and the mode).
    pub label: Option<String>,
    /// A GGUF file, a model directory or a Hugging Face hub id.
    pub model: String,
    /// How it is probed.
    pub mode: ModelMode,
    /// A PEFT LoRA adapter directory, merged at load.
    pub adapter: Option<PathBuf>,
    /// Only the first evaluation people (all by default).
    pub people: Option<usize>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[serde(default = "default_device")]
    pub device: String,
    /// `f32`, `bf16` or `f16` (default: bf16 on CUDA, f32 on the CPU).
    pub dtype: Option<String>,
    /// The paper's row to show beside this reasoner's on the real survey (its Table 4 or
    /// Table 15 name, such as `Llama-3.1-8B (200 demo.)`).
    pub paper: Option<String>,
    /// A served model: the base URL of its OpenAI-compatible API, including `/v1`; `model` is
    /// then the served model's name (and `adapter`, `device`, `dtype` do not apply).
    pub base_url: Option<String>,
    /// Served model: the environment variable holding the API key (default `OPENAI_API_KEY`).
    pub api_key_env: Option<String>,
    /// Served model: requests in flight at once (default 4).
    pub concurrency: Option<usize>,
    /// Served model: most requests this run sends (the run stops cleanly; rerun to continue).
    pub max_requests: Option<u64>,
    /// Served model: most prompt + completion tokens this run spends.
    pub max_tokens_total: Option<u64>,
    /// Served model: the response cache (default `indievalue_remote::default_cache_dir()`).
    pub cache: Option<PathBuf>,
    /// Served model, label scoring: alternatives asked per position (default 20).
    pub top_logprobs: Option<usize>,
    /// Served model, label scoring: `message`, `vllm` or `none` (see
    /// `indievalue_remote::Prefill`; default `message`).
    pub prefill: Option<String>,
    /// Served model, statement or answer scoring: its chat template (`llama3` or a
    /// `tokenizer_config.json`).
    pub chat_template: Option<String>,
}

fn default_device() -> String {
    "cpu".into()
}

impl ReasonerSpec {
    /// The label in tables.
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| format!("{} ({})", self.name, self.mode.name()))
    }

    /// The dtype's name (the default resolved).
    pub fn dtype_name(&self) -> String {
        self.dtype.clone().unwrap_or_else(|| {
            if self.device.starts_with("cuda") {
                "bf16".into()
            } else {
                "f32".into()
            }
        })
    }
}

/// How a language model is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelMode {
    /// C.1 prompt, the label's probability after `Option `.
    ScoreLabel,
    /// C.1 prompt, the whole answer `k: statement`.
    ScoreAnswer,
    /// Cloze: each option's statement as one more known statement.
    ScoreStatement,
    /// The paper's generative protocol (B.1 prompt, greedy, parsed).
    Generate,
}

impl ModelMode {
    /// The plan's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ModelMode::ScoreLabel => "score-label",
            ModelMode::ScoreAnswer => "score-answer",
            ModelMode::ScoreStatement => "score-statement",
            ModelMode::Generate => "generate",
        }
    }

    /// The probing mode.
    pub fn probe_mode(self, seed: u64) -> indievalue_probe::ProbeMode {
        use indievalue_probe::{GenerationSettings, ProbeMode, ScoreTarget};
        match self {
            ModelMode::ScoreLabel => ProbeMode::Score(ScoreTarget::Label),
            ModelMode::ScoreAnswer => ProbeMode::Score(ScoreTarget::Answer),
            ModelMode::ScoreStatement => ProbeMode::Score(ScoreTarget::Statement),
            ModelMode::Generate => ProbeMode::Generate(GenerationSettings {
                seed,
                ..GenerationSettings::default()
            }),
        }
    }
}

/// One `[[experiment]]`: its kind and the kind's own keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    /// The experiment's kind (`catalog`, `accuracy`, `top-k`, `inequity`, ...).
    pub kind: String,
    /// Reasoners it runs (default: the baselines and every `[[reasoner]]`).
    pub reasoners: Option<Vec<String>>,
    /// `demonstrations`: the counts, as the paper counts them (default 50, 100, 150, 200).
    pub counts: Option<Vec<usize>>,
    /// `groups`: the output shown (a `[[reasoner]]` or a baseline: `global`, `top1`, `topK`).
    pub reasoner: Option<String>,
    /// `groups`: the output it is compared with.
    pub over: Option<String>,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "seed",
    "data",
    "evaluation",
    "reasoner",
    "experiment",
];
const DATA_KEYS: &[&str] = &["synthetic", "csv", "dataset", "meta"];
const SYNTHETIC_KEYS: &[&str] = &["people", "seed"];
const EVALUATION_KEYS: &[&str] = &[
    "people",
    "demonstrations",
    "bootstrap",
    "top_k",
    "max_k",
    "learned",
];
const REASONER_KEYS: &[&str] = &[
    "name",
    "label",
    "model",
    "mode",
    "adapter",
    "people",
    "device",
    "dtype",
    "paper",
    "base_url",
    "api_key_env",
    "concurrency",
    "max_requests",
    "max_tokens_total",
    "cache",
    "top_logprobs",
    "prefill",
    "chat_template",
];

impl Plan {
    /// Parses and checks a plan; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Plan> {
        let err = |key: &str, message: String| Error::Plan {
            file: source.to_owned(),
            key: key.to_owned(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(&location(text, &e), e.message().to_owned()))?;
        check_keys(&table, source)?;
        let mut plan: Plan = toml::from_str(text)
            .map_err(|e: toml::de::Error| err(&location(text, &e), e.message().to_owned()))?;
        plan.source = source.to_owned();
        plan.validate()?;
        Ok(plan)
    }

    /// Reads and checks the plan file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Plan> {
        let path = path.as_ref();
        let text = indievalue_files::read_to_string(path)?;
        Plan::parse(&text, &path.display().to_string())
    }

    /// The embedded default plan (`plans/small.toml`): a synthetic survey, the baselines in
    /// every experiment and SmolLM2-135M for Table 4 on a few people.
    pub fn embedded_default() -> Result<Plan> {
        Plan::parse(EMBEDDED_DEFAULT, "embedded default (plans/small.toml)")
    }

    fn error(&self, key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Plan {
            file: self.source.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// Checks what the types cannot: one data source, sizes that can be met, references that
    /// resolve.
    fn validate(&self) -> Result<()> {
        let d = &self.data;
        let sources = [d.synthetic.is_some(), d.csv.is_some(), d.dataset.is_some()];
        match sources.iter().filter(|s| **s).count() {
            1 => {}
            0 => {
                return Err(self.error("data", "name one of synthetic, csv or dataset"));
            }
            _ => {
                return Err(self.error("data", "name only one of synthetic, csv or dataset"));
            }
        }
        let e = &self.evaluation;
        if e.people == 0 {
            return Err(self.error("evaluation.people", "must be at least 1"));
        }
        if e.demonstrations == 0 {
            return Err(self.error("evaluation.demonstrations", "must be at least 1"));
        }
        if e.demonstrations > PAPER_DEMO_QUESTIONS {
            return Err(self.error(
                "evaluation.demonstrations",
                format!(
                    "{} is more than the {PAPER_DEMO_QUESTIONS} non-probe questions a setup has",
                    e.demonstrations
                ),
            ));
        }
        if e.top_k == 0 || e.max_k == 0 {
            return Err(self.error("evaluation.top_k", "top_k and max_k must be at least 1"));
        }
        if e.top_k > e.max_k {
            return Err(self.error(
                "evaluation.top_k",
                format!("{} is larger than max_k ({})", e.top_k, e.max_k),
            ));
        }
        if let Some(s) = &d.synthetic
            && s.people <= e.people
        {
            return Err(self.error(
                "data.synthetic.people",
                format!(
                    "{} people leave none to train the baselines on after the {} evaluation people",
                    s.people, e.people
                ),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.reasoners.iter().enumerate() {
            let key = |k: &str| format!("reasoner[{i}].{k}");
            if r.name == BASELINES || r.name.is_empty() {
                return Err(self.error(key("name"), format!("{:?} is reserved", r.name)));
            }
            if !names.insert(r.name.as_str()) {
                return Err(self.error(key("name"), format!("{:?} is named twice", r.name)));
            }
            if r.people == Some(0) {
                return Err(self.error(key("people"), "must be at least 1"));
            }
            if let Some(n) = r.people
                && n > e.people
            {
                return Err(self.error(
                    key("people"),
                    format!("{n} is more than the {} evaluation people", e.people),
                ));
            }
            if r.base_url.is_none() {
                for (name, set) in [
                    ("api_key_env", r.api_key_env.is_some()),
                    ("concurrency", r.concurrency.is_some()),
                    ("max_requests", r.max_requests.is_some()),
                    ("max_tokens_total", r.max_tokens_total.is_some()),
                    ("cache", r.cache.is_some()),
                    ("top_logprobs", r.top_logprobs.is_some()),
                    ("prefill", r.prefill.is_some()),
                    ("chat_template", r.chat_template.is_some()),
                ] {
                    if set {
                        return Err(self.error(key(name), "only for a served model (base_url)"));
                    }
                }
            } else {
                if r.adapter.is_some() {
                    return Err(self.error(
                        key("adapter"),
                        "a served model's adapter is the server's: serve the merged model",
                    ));
                }
                if r.concurrency == Some(0) {
                    return Err(self.error(key("concurrency"), "must be at least 1"));
                }
                if let Some(prefill) = &r.prefill
                    && prefill.parse::<indievalue_remote::Prefill>().is_err()
                {
                    return Err(self.error(key("prefill"), "one of message, vllm, none"));
                }
                let cloze = matches!(r.mode, ModelMode::ScoreStatement | ModelMode::ScoreAnswer);
                if cloze && r.chat_template.is_none() {
                    return Err(self.error(
                        key("chat_template"),
                        "statement and answer scoring of a served model need its chat template",
                    ));
                }
            }
            if indievalue_llm::parse_dtype(&r.dtype_name()).is_err() {
                return Err(self.error(key("dtype"), "one of f32, bf16, f16"));
            }
            let device_ok = r.device == "cpu"
                || r.device == "cuda"
                || r.device
                    .strip_prefix("cuda:")
                    .is_some_and(|n| n.parse::<usize>().is_ok());
            if !device_ok {
                return Err(self.error(key("device"), "cpu, cuda or cuda:N"));
            }
            if let Some(paper) = &r.paper
                && crate::paper::table4_row(paper).is_none()
                && crate::paper::table15_row(paper).is_none()
            {
                return Err(self.error(
                    key("paper"),
                    format!("{paper:?} is not a row of the paper's Table 4 or Table 15"),
                ));
            }
        }
        if self.experiments.is_empty() {
            return Err(self.error("experiment", "the plan has no [[experiment]]"));
        }
        for (i, x) in self.experiments.iter().enumerate() {
            if let Some(counts) = &x.counts
                && (counts.is_empty() || counts.iter().any(|&c| c == 0 || c > PAPER_DEMO_QUESTIONS))
            {
                return Err(self.error(
                    format!("experiment[{i}].counts"),
                    format!("between 1 and {PAPER_DEMO_QUESTIONS} demonstrations each"),
                ));
            }
            if let Some(list) = &x.reasoners {
                for name in list {
                    if name != BASELINES && !names.contains(name.as_str()) {
                        return Err(self.error(
                            format!("experiment[{i}].reasoners"),
                            format!("{name:?} is not a [[reasoner]] of the plan nor \"baselines\""),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The reasoner named `name` (`None` for the baselines or an unknown name).
    pub fn reasoner(&self, name: &str) -> Option<&ReasonerSpec> {
        self.reasoners.iter().find(|r| r.name == name)
    }

    /// The reasoners an experiment runs: its list, or the baselines and every reasoner.
    pub fn reasoners_of(&self, spec: &ExperimentSpec) -> Vec<String> {
        spec.reasoners.clone().unwrap_or_else(|| {
            std::iter::once(BASELINES.to_owned())
                .chain(self.reasoners.iter().map(|r| r.name.clone()))
                .collect()
        })
    }

    /// Whether the data is the real survey (a CSV or a converted dataset, not synthetic).
    pub fn is_real_survey(&self) -> bool {
        self.data.synthetic.is_none()
    }
}

/// `line N` of a parse error.
fn location(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => format!(
            "line {}",
            text[..span.start.min(text.len())].lines().count().max(1)
        ),
        None => "(plan)".to_owned(),
    }
}

/// Every key of the plan must be one the plan knows: unknown keys are errors naming them (a
/// misspelt key would otherwise silently fall back to a default).
fn check_keys(table: &toml::Table, source: &str) -> Result<()> {
    let unknown = |key: String, known: &[&str]| Error::Plan {
        file: source.to_owned(),
        key,
        message: format!("unknown key (known here: {})", known.join(", ")),
    };
    let check = |t: &toml::Table, prefix: &str, known: &[&str]| -> Result<()> {
        for k in t.keys() {
            if !known.contains(&k.as_str()) {
                return Err(unknown(format!("{prefix}{k}"), known));
            }
        }
        Ok(())
    };
    check(table, "", TOP_KEYS)?;
    if let Some(toml::Value::Table(data)) = table.get("data") {
        check(data, "data.", DATA_KEYS)?;
        if let Some(toml::Value::Table(s)) = data.get("synthetic") {
            check(s, "data.synthetic.", SYNTHETIC_KEYS)?;
        }
    }
    if let Some(toml::Value::Table(e)) = table.get("evaluation") {
        check(e, "evaluation.", EVALUATION_KEYS)?;
    }
    if let Some(toml::Value::Array(items)) = table.get("reasoner") {
        for (i, item) in items.iter().enumerate() {
            if let toml::Value::Table(t) = item {
                check(t, &format!("reasoner[{i}]."), REASONER_KEYS)?;
            }
        }
    }
    if let Some(toml::Value::Array(items)) = table.get("experiment") {
        for (i, item) in items.iter().enumerate() {
            let toml::Value::Table(t) = item else {
                continue;
            };
            let Some(kind) = t.get("kind").and_then(|k| k.as_str()) else {
                return Err(Error::Plan {
                    file: source.to_owned(),
                    key: format!("experiment[{i}].kind"),
                    message: "missing".to_owned(),
                });
            };
            let Some(known) = crate::experiments::known_keys(kind) else {
                return Err(Error::Plan {
                    file: source.to_owned(),
                    key: format!("experiment[{i}].kind"),
                    message: format!(
                        "unknown experiment {kind:?} (known: {})",
                        crate::experiments::KINDS.join(", ")
                    ),
                });
            };
            check(t, &format!("experiment[{i}]."), known)?;
        }
    }
    Ok(())
}
