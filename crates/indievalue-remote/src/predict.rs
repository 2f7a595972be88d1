//! Predictors backed by a served model: the paper's generative protocol and log-probability
//! scoring, behind the probe crate's [`TaskPredictor`].

use crate::client::{Client, parallel_map};
use crate::response::{PromptLogprobs, TokenLogprob, chat_logprobs, message_content, token_usage};
use crate::{Error, Result};
use indievalue_catalog::Catalog;
use indievalue_llm::ChatTemplate;
use indievalue_metrics::Prediction;
use indievalue_probe::{
    Attempt, GENERATIONS_FILE, GeneratedTask, GenerationSettings, PromptBuilder, ScoreTarget,
    TaskOutput, TaskPredictor, parse_answer, scored_texts,
};
use indievalue_sampling::ProbeTask;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// File name of a remote scoring run's records (per probe: where the label was read, the
/// probabilities read, the labels absent from the server's list).
pub const SCORES_FILE: &str = "scores.jsonl";

/// A probe error from a client error: a spent budget stays a budget stop.
fn probe_error(e: Error) -> indievalue_probe::Error {
    match e {
        Error::Budget(why) => indievalue_probe::Error::Budget(why),
        e => indievalue_probe::Error::Predictor {
            context: "remote model".into(),
            source: Box::new(e),
        },
    }
}

/// A chat request body.
fn chat(client: &Client, messages: Value, max_tokens: usize, temperature: f64) -> Value {
    json!({
        "model": client.endpoint().model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
    })
}

/// The paper's protocol on a served model: the probing prompt of Appendix B.1 as the user turn,
/// a greedy first attempt, answers parsed by key; answers leaving groups without a valid choice
/// are retried (sampled at the retry temperature, with a per-attempt `seed`), every attempt
/// recorded in `generations.jsonl` as local generative runs record them. Requests go through
/// [`Client::chat_streamed`] (streamed where the server streams).
pub struct RemoteGenerative<'a> {
    client: &'a Client,
    prompts: PromptBuilder<'a>,
    settings: GenerationSettings,
}

impl<'a> RemoteGenerative<'a> {
    /// A generative predictor for tasks of `catalog`.
    pub fn new(client: &'a Client, catalog: &'a Catalog, settings: GenerationSettings) -> Self {
        RemoteGenerative {
            client,
            prompts: PromptBuilder::new(catalog),
            settings,
        }
    }

    /// Probes one task.
    pub fn probe(&self, task: &ProbeTask) -> indievalue_probe::Result<GeneratedTask> {
        let prompt = self.prompts.probing_prompt(task)?;
        let options: Vec<u8> = task.probes.iter().map(|p| p.options).collect();
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut prompt_tokens = 0;
        for attempt in 0..=self.settings.retries {
            let temperature = self.settings.temperature(attempt);
            let mut body = chat(
                self.client,
                json!([{ "role": "user", "content": prompt }]),
                self.settings.max_new_tokens,
                temperature,
            );
            if attempt > 0 {
                let mut rng = self.settings.attempt_rng(task, attempt);
                body["seed"] = json!(rng.next_u64() >> 33);
            }
            let response = self.client.chat_streamed(&body).map_err(probe_error)?;
            let answer = message_content(&response).unwrap_or_default();
            let (prompt_used, completion) = token_usage(&response);
            prompt_tokens = prompt_used;
            let finish = response
                .get("choices")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("finish_reason"))
                .and_then(Value::as_str);
            let parsed = parse_answer(&answer, &options);
            let complete = parsed.valid() == options.len();
            attempts.push(Attempt {
                temperature,
                answer,
                tokens: completion,
                hit_limit: finish == Some("length"),
                parsed,
            });
            if complete {
                break;
            }
        }
        Ok(GeneratedTask::from_attempts(task, prompt_tokens, attempts))
    }

    fn output(&self, task: &ProbeTask) -> indievalue_probe::Result<TaskOutput> {
        let generated = self.probe(task)?;
        let tokens =
            generated.prompt_tokens + generated.attempts.iter().map(|a| a.tokens).sum::<usize>();
        let record = serde_json::to_value(&generated)
            .map_err(|e| indievalue_probe::Error::Task(format!("recording a generation: {e}")))?;
        Ok(TaskOutput {
            predictions: generated.predictions,
            tokens,
            record: Some(record),
        })
    }
}

impl TaskPredictor for RemoteGenerative<'_> {
    fn predict_many(&self, tasks: &[&ProbeTask]) -> Vec<indievalue_probe::Result<TaskOutput>> {
        parallel_map(tasks, self.client.settings().concurrency, |t| {
            self.output(t)
        })
    }

    fn tasks_at_once(&self) -> usize {
        self.client.settings().concurrency.max(1)
    }

    fn record_file(&self) -> Option<&str> {
        Some(GENERATIONS_FILE)
    }
}

/// How the assistant turn is started for label scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefill {
    /// A final assistant message `Option`, which servers that continue a final assistant
    /// message (llama.cpp's server) continue; where a server starts a new turn instead, the
    /// label is read after the `Option` the model generates.
    Message,
    /// As `Message`, plus vLLM's `continue_final_message: true, add_generation_prompt: false`.
    Vllm,
    /// No assistant message (OpenAI's API and others that reject or ignore one): the label is
    /// read after the `Option` the model generates.
    None,
}

impl std::str::FromStr for Prefill {
    type Err = String;

    /// `message`, `vllm` or `none`.
    fn from_str(s: &str) -> std::result::Result<Prefill, String> {
        match s {
            "message" => Ok(Prefill::Message),
            "vllm" => Ok(Prefill::Vllm),
            "none" => Ok(Prefill::None),
            other => Err(format!("{other:?}: expected message, vllm or none")),
        }
    }
}

/// Settings of remote scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteScoringSettings {
    /// What is scored: `Label` from chat `top_logprobs`; `Statement` and `Answer` from the
    /// prompt log-probabilities of `/v1/completions` with `echo` (vLLM, SGLang).
    pub target: ScoreTarget,
    /// Alternatives asked per position (`top_logprobs`; OpenAI and vLLM allow at most 20 by
    /// default).
    pub top_logprobs: usize,
    /// How the assistant turn starts (label scoring).
    pub prefill: Prefill,
}

impl Default for RemoteScoringSettings {
    fn default() -> Self {
        RemoteScoringSettings {
            target: ScoreTarget::Label,
            top_logprobs: 20,
            prefill: Prefill::Message,
        }
    }
}

/// What was read for one probe's label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelReading {
    /// The probe's question.
    pub question: String,
    /// The generated token position the labels were read at (`None`: no position found; every
    /// label then shares the mass equally).
    pub position: Option<usize>,
    /// Whether the model generated `Option` itself (the server did not continue the prefill).
    pub after_generated_option: bool,
    /// Per option, its label's probability as read (listed tokens merged; absent labels given
    /// an equal share of the mass outside the list), before normalising.
    pub label_probabilities: Vec<f64>,
    /// Labels that were not in the server's list at that position.
    pub absent: Vec<String>,
}

/// Where the label is read in a generated answer: the first position whose token is not blank
/// and not `Option`, after nothing but blanks and `Option`. The second value says whether an
/// `Option` was generated before it.
pub fn label_position(tokens: &[TokenLogprob]) -> Option<(usize, bool)> {
    let mut before = String::new();
    for (i, t) in tokens.iter().enumerate() {
        let so_far = before.trim();
        if so_far.is_empty() || so_far == "Option" {
            let text = t.token.trim();
            if !text.is_empty() && text != "Option" {
                return Some((i, so_far == "Option"));
            }
        } else {
            return None;
        }
        before.push_str(&t.token);
    }
    None
}

/// Per option, the probability of its label `1..=options` in a list of alternatives: tokens
/// with the same trimmed text merged (`"1"`, `" 1"`), each distinct token counted once; labels
/// not listed share the mass the list leaves out equally. Returns the probabilities and the
/// absent labels.
pub fn label_probabilities(top: &[(String, f64)], options: usize) -> (Vec<f64>, Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let listed: Vec<&(String, f64)> = top.iter().filter(|(t, _)| seen.insert(t.clone())).collect();
    let listed_mass: f64 = listed.iter().map(|(_, lp)| lp.exp()).sum();
    let leftover = (1.0 - listed_mass).max(0.0);
    let labels: Vec<String> = (1..=options).map(|k| k.to_string()).collect();
    let mut probs: Vec<Option<f64>> = labels
        .iter()
        .map(|l| {
            let matching: Vec<f64> = listed
                .iter()
                .filter(|(t, _)| t.trim() == l)
                .map(|(_, lp)| lp.exp())
                .collect();
            (!matching.is_empty()).then(|| matching.iter().sum())
        })
        .collect();
    let absent: Vec<String> = labels
        .iter()
        .zip(&probs)
        .filter(|(_, p)| p.is_none())
        .map(|(l, _)| l.clone())
        .collect();
    let share = if absent.is_empty() {
        0.0
    } else {
        leftover / absent.len() as f64
    };
    for p in &mut probs {
        p.get_or_insert(share);
    }
    (probs.into_iter().flatten().collect(), absent)
}

/// A prediction from unnormalised option probabilities: normalised (uniform when all are
/// zero), the most probable option predicted (the first on a tie).
fn prediction(task: &ProbeTask, probe: usize, weights: &[f64]) -> Prediction {
    let sum: f64 = weights.iter().sum();
    let probs: Vec<f32> = if sum > 0.0 && sum.is_finite() {
        weights.iter().map(|w| (w / sum) as f32).collect()
    } else {
        vec![1.0 / weights.len() as f32; weights.len()]
    };
    let predicted = probs
        .iter()
        .enumerate()
        .fold(0, |best, (i, &p)| if p > probs[best] { i } else { best });
    let p = &task.probes[probe];
    Prediction::new(
        task.person,
        task.setup,
        &p.question,
        task.probe_granularity,
        Some(predicted as u8),
        p.gold,
        Some(probs),
    )
}

/// Scoring on a served model, every option of every probe getting a probability:
///
/// - [`ScoreTarget::Label`]: each probe asked with the C.1 prompt (the one the local label
///   scorer and the reasoner's training use) as the user turn; the label's probability read from
///   `top_logprobs` where the label follows `Option` (see [`Prefill`], [`label_position`],
///   [`label_probabilities`]).
/// - [`ScoreTarget::Statement`] and [`ScoreTarget::Answer`]: the local scorer's texts (rendered
///   with the chat template given, which must be the served model's), each option's text sent to
///   `/v1/completions` with `echo` and `logprobs`, the scored part's tokens summed; needs a server
///   that returns prompt log-probabilities (vLLM, SGLang).
///
/// [`RemoteScoring::new`] first asks the server once (a cached request) whether it can serve the
/// target, and stops with [`Error::Unsupported`] before any task's request where it cannot.
pub struct RemoteScoring<'a> {
    client: &'a Client,
    prompts: PromptBuilder<'a>,
    settings: RemoteScoringSettings,
    template: Option<ChatTemplate>,
}

impl<'a> RemoteScoring<'a> {
    /// A scoring predictor; `template` (the served model's chat template) is needed for the
    /// `Statement` and `Answer` targets. Runs the capability probe.
    pub fn new(
        client: &'a Client,
        catalog: &'a Catalog,
        settings: RemoteScoringSettings,
        template: Option<ChatTemplate>,
    ) -> Result<Self> {
        match settings.target {
            ScoreTarget::Label => probe_chat_logprobs(client, settings.top_logprobs)?,
            ScoreTarget::Statement | ScoreTarget::Answer => {
                if template.is_none() {
                    return Err(Error::Unsupported {
                        url: client.endpoint().url("completions"),
                        what: "statement and answer scoring render the served model's chat \
                               template: give one"
                            .into(),
                    });
                }
                probe_prompt_logprobs(client)?;
            }
        }
        Ok(RemoteScoring {
            client,
            prompts: PromptBuilder::new(catalog),
            settings,
            template,
        })
    }

    /// One probe's label reading.
    fn read_label(&self, task: &ProbeTask, probe: usize) -> indievalue_probe::Result<LabelReading> {
        let known = self.prompts.known_statements(task)?;
        let p = &task.probes[probe];
        let user = self.prompts.question_prompt_with(&known, task, p)?;
        let mut messages = vec![json!({ "role": "user", "content": user })];
        if self.settings.prefill != Prefill::None {
            messages.push(json!({ "role": "assistant", "content": "Option" }));
        }
        let mut body = chat(self.client, Value::Array(messages), 4, 0.0);
        body["logprobs"] = json!(true);
        body["top_logprobs"] = json!(self.settings.top_logprobs);
        if self.settings.prefill == Prefill::Vllm {
            body["continue_final_message"] = json!(true);
            body["add_generation_prompt"] = json!(false);
        }
        let response = self
            .client
            .post("chat/completions", &body)
            .map_err(probe_error)?;
        let tokens = chat_logprobs(&response);
        let options = usize::from(p.options);
        let (position, after_generated_option) = match label_position(&tokens) {
            Some((i, generated)) => (Some(i), generated),
            None => (None, false),
        };
        let top = position.map_or(&[][..], |i| tokens[i].top.as_slice());
        let (label_probabilities, absent) = label_probabilities(top, options);
        Ok(LabelReading {
            question: p.question.clone(),
            position,
            after_generated_option,
            label_probabilities,
            absent,
        })
    }

    /// One option's summed log-probability of its scored part, from the echoed prompt.
    fn option_logprob(&self, text: &str, suffix: &str) -> indievalue_probe::Result<f64> {
        let body = json!({
            "model": self.client.endpoint().model,
            "prompt": text,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": true,
            "logprobs": 1,
        });
        let response = self
            .client
            .post("completions", &body)
            .map_err(probe_error)?;
        let url = self.client.endpoint().url("completions");
        let lp = PromptLogprobs::of(&response).ok_or_else(|| {
            probe_error(Error::Response {
                url: url.clone(),
                message: "no prompt log-probabilities in the answer".into(),
            })
        })?;
        let end = text.chars().count();
        let start = end - suffix.chars().count();
        lp.span(start, end)
            .map_err(|message| probe_error(Error::Response { url, message }))
    }

    fn output(&self, task: &ProbeTask) -> indievalue_probe::Result<TaskOutput> {
        let mut predictions = Vec::with_capacity(task.probes.len());
        let mut readings = Vec::new();
        let mut tokens = 0;
        match (self.settings.target, &self.template) {
            (ScoreTarget::Label, _) | (_, None) => {
                for i in 0..task.probes.len() {
                    let reading = self.read_label(task, i)?;
                    predictions.push(prediction(task, i, &reading.label_probabilities));
                    readings.push(reading);
                }
            }
            (target, Some(template)) => {
                let texts = scored_texts(&self.prompts, template, target, task)?;
                for (i, (probe, texts)) in task.probes.iter().zip(&texts).enumerate() {
                    let statements = self.prompts.probe_options(task, probe)?;
                    let scores: Vec<f64> = texts
                        .iter()
                        .zip(&statements)
                        .enumerate()
                        .map(|(k, (text, statement))| {
                            let suffix = match target {
                                ScoreTarget::Answer => {
                                    indievalue_probe::option_answer(k, statement)
                                }
                                _ => statement.clone(),
                            };
                            tokens += text.len() / 4;
                            self.option_logprob(text, &suffix)
                        })
                        .collect::<indievalue_probe::Result<_>>()?;
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    predictions.push(prediction(task, i, &weights));
                }
            }
        }
        let record = (!readings.is_empty())
            .then(|| json!({ "person": task.person, "setup": task.setup, "probes": readings }));
        Ok(TaskOutput {
            predictions,
            tokens,
            record,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &RemoteScoringSettings {
        &self.settings
    }
}

impl TaskPredictor for RemoteScoring<'_> {
    fn predict_many(&self, tasks: &[&ProbeTask]) -> Vec<indievalue_probe::Result<TaskOutput>> {
        parallel_map(tasks, self.client.settings().concurrency, |t| {
            self.output(t)
        })
    }

    fn tasks_at_once(&self) -> usize {
        self.client.settings().concurrency.max(1)
    }

    fn record_file(&self) -> Option<&str> {
        (self.settings.target == ScoreTarget::Label).then_some(SCORES_FILE)
    }
}

/// Asks the server once (cached) whether chat answers carry `top_logprobs`.
pub fn probe_chat_logprobs(client: &Client, top_logprobs: usize) -> Result<()> {
    let mut body = chat(
        client,
        json!([{ "role": "user", "content": "Answer with one digit: 1 or 2?" }]),
        1,
        0.0,
    );
    body["logprobs"] = json!(true);
    body["top_logprobs"] = json!(top_logprobs);
    let url = client.endpoint().url("chat/completions");
    let response = client.post("chat/completions", &body)?;
    let tokens = chat_logprobs(&response);
    if tokens.first().is_some_and(|t| !t.top.is_empty()) {
        Ok(())
    } else {
        Err(Error::Unsupported {
            url,
            what: "chat answers carry no top_logprobs, so labels cannot be scored; use \
                   generative probing"
                .into(),
        })
    }
}

/// Asks the server once (cached) whether `/v1/completions` with `echo` returns the prompt's
/// log-probabilities (vLLM and SGLang do; llama.cpp's server answers without them, OpenAI
/// refuses).
pub fn probe_prompt_logprobs(client: &Client) -> Result<()> {
    let body = json!({
        "model": client.endpoint().model,
        "prompt": "The sky is blue and the grass is green.",
        "max_tokens": 1,
        "temperature": 0.0,
        "echo": true,
        "logprobs": 1,
    });
    let url = client.endpoint().url("completions");
    let unsupported = |why: String| Error::Unsupported {
        url: url.clone(),
        what: format!(
            "the server does not score prompts ({why}): statement and answer scoring need \
             prompt log-probabilities from /v1/completions with echo (vLLM, SGLang); use label \
             scoring or generative probing"
        ),
    };
    let response = match client.post("completions", &body) {
        Ok(r) => r,
        Err(Error::Refused {
            status: 400 | 404 | 422,
            message,
            ..
        }) => return Err(unsupported(message)),
        Err(e) => return Err(e),
    };
    match PromptLogprobs::of(&response) {
        Some(lp) if lp.logprobs.iter().filter(|l| l.is_some()).count() >= 2 => Ok(()),
        _ => Err(unsupported(
            "no prompt log-probabilities in its answer to echo".into(),
        )),
    }
}
