//! Predictors that run a language model on probe tasks and produce the shared predictions.

use crate::parse::{ParsedAnswer, parse_answer};
use crate::prompt::{PromptBuilder, option_answer, option_label};
use crate::{Error, Result};
use indievalue_catalog::Catalog;
use indievalue_catalog::rng::{Rng, label};
use indievalue_llm::generate::{Prefill, StopCriteria, TokenChoice, generate};
use indievalue_llm::{ChatMessage, KvCache, LoadedModel, Tensor, TextTokenizer, TokenBatch};
use indievalue_metrics::Prediction;
use indievalue_sampling::ProbeTask;
use serde::{Deserialize, Serialize};

fn llm(context: &str) -> impl FnOnce(indievalue_llm::Error) -> Error + '_ {
    move |source| Error::Model {
        context: context.to_owned(),
        source: Box::new(source),
    }
}

fn tensor(context: &str) -> impl FnOnce(indievalue_llm::candle_core::Error) -> Error + '_ {
    move |source| Error::Model {
        context: context.to_owned(),
        source: Box::new(indievalue_llm::Error::Candle {
            context: context.to_owned(),
            source,
        }),
    }
}

fn tokenizer(model: &LoadedModel) -> Result<&TextTokenizer> {
    model
        .tokenizer
        .as_ref()
        .ok_or_else(|| Error::Task("the model has no tokenizer".into()))
}

/// What one question of a scored task needs: the tokens after the shared prefix, and how each
/// option's label continues them.
struct QuestionPlan {
    /// Tokens after the shared prefix, up to where the options' labels diverge.
    continuation: Vec<u32>,
    /// Per option, the label's tokens (usually one).
    labels: Vec<Vec<u32>>,
}

/// A task scored: predictions with probabilities, and token counts.
#[derive(Debug, Clone)]
pub struct ScoredTask {
    /// One prediction per probe, in probe order, each with a probability per option.
    pub predictions: Vec<Prediction>,
    /// Tokens of the shared prefix.
    pub prefix_tokens: usize,
    /// Tokens run after the prefix, all questions together (padding excluded).
    pub continuation_tokens: usize,
}

/// The fast, deterministic predictor: every option of every probe question gets a probability,
/// from one shared prefix per (person, setup), without generation.
///
/// What is scored depends on [`ScoringPredictor::target`]; no length normalisation in any
/// case, and the scores are renormalised over each question's options (softmax of the summed
/// log-probabilities):
///
/// - [`ScoreTarget::Label`] (default) and [`ScoreTarget::Answer`]: each probe is asked with the
///   training prompt of Appendix C.1 (the known statements, then the question's
///   `Option i: statement` lines) as the user turn of the model's chat template, and the
///   assistant's answer is taken to start with `Option `. `Label` scores the tokens of the label
///   `k` at that point (one token in Llama 3 and SmolLM2 tokenizers for labels up to 9),
///   `Answer` the whole answer `k: statement`. The shared prefix is everything up to the
///   question's options.
/// - [`ScoreTarget::Statement`] (cloze): no option list, no labels; the user turn is a short
///   instruction and the known statements, and each option's statement is scored as one more
///   `# statement` line of that list. The shared prefix is the whole list, so only the options'
///   statements are run per question.
///
/// The prefix is run once; the continuations read its keys and values in place, in batches of
/// [`ScoringPredictor::batch_rows`] rows sorted by length.
///
/// Which to use: a model fine-tuned on the C.1 format (or a large instruction model) answers
/// with labels; small untuned models ignore the known statements when asked to pick a label (on
/// the consistency set SmolLM2-135M is at chance with `Label` and well above it with
/// `Statement`; see the `consistency` example).
pub struct ScoringPredictor<'a> {
    model: &'a LoadedModel,
    prompts: PromptBuilder<'a>,
    /// Continuations run together (default 8).
    pub batch_rows: usize,
    /// What is scored (default [`ScoreTarget::Label`]).
    pub target: ScoreTarget,
}

/// What the scoring predictor scores (see [`ScoringPredictor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreTarget {
    /// The option's label `k` after the assistant's `Option ` (C.1 prompt): one row per
    /// question.
    Label,
    /// The whole answer of Appendix C.1, `k: statement` after the assistant's `Option `: the
    /// sum of its tokens' log-probabilities, one row per option.
    Answer,
    /// Cloze: no option list and no labels. The option's statement is scored as one more line
    /// `# statement` of the person's known statements (inside the user turn), the sum of its
    /// tokens' log-probabilities.
    Statement,
}

impl ScoreTarget {
    /// `"label"`, `"answer"` or `"statement"` (what [`std::str::FromStr`] reads).
    pub fn name(self) -> &'static str {
        match self {
            ScoreTarget::Label => "label",
            ScoreTarget::Answer => "answer",
            ScoreTarget::Statement => "statement",
        }
    }
}

impl std::str::FromStr for ScoreTarget {
    type Err = String;

    /// `label`, `answer` or `statement`.
    fn from_str(s: &str) -> Result<ScoreTarget, String> {
        match s {
            "label" => Ok(ScoreTarget::Label),
            "answer" => Ok(ScoreTarget::Answer),
            "statement" => Ok(ScoreTarget::Statement),
            other => Err(format!("{other:?}: expected label, answer or statement")),
        }
    }
}

impl<'a> ScoringPredictor<'a> {
    /// A predictor for tasks of `catalog`.
    pub fn new(model: &'a LoadedModel, catalog: &'a Catalog) -> ScoringPredictor<'a> {
        ScoringPredictor {
            model,
            prompts: PromptBuilder::new(catalog),
            batch_rows: 8,
            target: ScoreTarget::Label,
        }
    }

    /// Per probe, the full text scored for every option (see [`ScoreTarget`]).
    fn texts(&self, task: &ProbeTask) -> Result<Vec<Vec<String>>> {
        scored_texts(&self.prompts, &self.model.chat_template, self.target, task)
    }

    /// Token ids of the shared prefix and every question's plan.
    fn plan(&self, task: &ProbeTask) -> Result<(Vec<u32>, Vec<QuestionPlan>)> {
        if task.probes.is_empty() {
            return Err(Error::Task(format!(
                "person {} setup {}: no probes",
                task.person, task.setup
            )));
        }
        let tok = tokenizer(self.model)?;
        let texts = self.texts(task)?;
        // The common text of all questions, cut after its last line end (a token boundary in
        // byte-level BPE tokenizers; checked below).
        let first = &texts[0][0];
        let mut common = first.len();
        for t in texts.iter().flatten() {
            common = common.min(
                first
                    .bytes()
                    .zip(t.bytes())
                    .take_while(|(a, b)| a == b)
                    .count(),
            );
        }
        let cut = first[..common].rfind('\n').map_or(0, |i| i + 1);
        let encode = |s: &str| tok.encode(s).map_err(llm("tokenizing"));
        let prefix = encode(&first[..cut])?;
        let mut plans = Vec::with_capacity(texts.len());
        for (q, options) in texts.iter().enumerate() {
            let rests: Vec<Vec<u32>> = options
                .iter()
                .map(|t| encode(&t[cut..]))
                .collect::<Result<_>>()?;
            if q == 0 {
                // The split must not change the tokens.
                let whole = encode(&options[0])?;
                let joined: Vec<u32> = prefix.iter().chain(&rests[0]).copied().collect();
                if whole != joined {
                    return Err(Error::Task(
                        "the tokenizer does not split the prompt at a line end; cannot share a prefix"
                            .into(),
                    ));
                }
            }
            let shared = (0..rests[0].len())
                .take_while(|&i| rests.iter().all(|r| r.get(i) == rests[0].get(i)))
                .count();
            if shared == 0 || rests.iter().any(|r| r.len() == shared) {
                return Err(Error::Task(format!(
                    "question {}: option labels do not tokenize apart",
                    task.probes[q].question
                )));
            }
            plans.push(QuestionPlan {
                continuation: rests[0][..shared].to_vec(),
                labels: rests.iter().map(|r| r[shared..].to_vec()).collect(),
            });
        }
        if prefix.is_empty() {
            return Err(Error::Task("the questions share no prefix".into()));
        }
        Ok((prefix, plans))
    }

    /// Rows to run after the prefix, and per question and option the row its label is read
    /// from. An option whose label is one token is read from its question's base row (the
    /// continuation alone); a longer label gets its own row (continuation + label but its last
    /// token) that predicts all its tokens.
    fn rows(plans: &[QuestionPlan]) -> (Vec<Row>, Vec<Vec<usize>>) {
        let mut rows = Vec::new();
        let mut read_from = Vec::with_capacity(plans.len());
        for (q, p) in plans.iter().enumerate() {
            let mut base = None;
            let mut of_option = Vec::with_capacity(p.labels.len());
            for (k, l) in p.labels.iter().enumerate() {
                if l.len() == 1 {
                    let i = *base.get_or_insert_with(|| {
                        rows.push(Row {
                            question: q,
                            option: None,
                            tokens: p.continuation.clone(),
                        });
                        rows.len() - 1
                    });
                    of_option.push(i);
                } else {
                    let mut tokens = p.continuation.clone();
                    tokens.extend_from_slice(&l[..l.len() - 1]);
                    rows.push(Row {
                        question: q,
                        option: Some(k),
                        tokens,
                    });
                    of_option.push(rows.len() - 1);
                }
            }
            read_from.push(of_option);
        }
        (rows, read_from)
    }

    /// Log-probabilities (f32) over the vocabulary at `positions` of row `row` of `hidden`,
    /// projected onto the vocabulary in one product.
    fn log_probs(&self, hidden: &Tensor, row: usize, positions: &[usize]) -> Result<Vec<Vec<f32>>> {
        let m = &self.model.model;
        let index: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        let picked = Tensor::new(index.as_slice(), hidden.device())
            .and_then(|i| hidden.get(row)?.index_select(&i, 0))
            .map_err(tensor("selecting positions"))?;
        let logits = m.logits(&picked).map_err(llm("output projection"))?;
        indievalue_llm::log_softmax_rows(&logits).map_err(llm("reading logits"))
    }

    /// Every option's score (the sum of its label tokens' log-probabilities) per question, from
    /// the log-probabilities each row picked ([`ScoringPredictor::picks`]).
    fn option_scores(
        plans: &[QuestionPlan],
        read_from: &[Vec<usize>],
        row_log_probs: &[Vec<Vec<f32>>],
    ) -> Vec<Vec<f64>> {
        plans
            .iter()
            .zip(read_from)
            .map(|(plan, rows)| {
                plan.labels
                    .iter()
                    .zip(rows)
                    .map(|(label, &row)| {
                        // The row's picked positions predict the label's tokens in order.
                        label
                            .iter()
                            .zip(&row_log_probs[row])
                            .map(|(&t, lp)| f64::from(lp[t as usize]))
                            .sum::<f64>()
                    })
                    .collect()
            })
            .collect()
    }

    /// Positions whose log-probabilities a row needs: a base row its last; an option's row
    /// the positions predicting its label's tokens (the continuation's last on).
    fn picks(rows: &[Row], plans: &[QuestionPlan]) -> Vec<Vec<usize>> {
        rows.iter()
            .map(|r| {
                let n = match r.option {
                    None => 1,
                    Some(k) => plans[r.question].labels[k].len(),
                };
                (r.tokens.len() - n..r.tokens.len()).collect()
            })
            .collect()
    }

    /// Scores a task from one shared prefix.
    pub fn score(&self, task: &ProbeTask) -> Result<ScoredTask> {
        let (prefix, plans) = self.plan(task)?;
        let m = &self.model.model;
        let mut cache = m.new_cache(1);
        m.forward(&TokenBatch::single(&prefix), &mut cache)
            .map_err(llm("running the shared prefix"))?;
        let (rows, read_from) = Self::rows(&plans);
        let picks = Self::picks(&rows, &plans);
        // Rows batched in order of length, so little of a batch is padding.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].tokens.len());
        let mut row_log_probs = vec![Vec::new(); rows.len()];
        for chunk in order.chunks(self.batch_rows.max(1)) {
            let ids: Vec<Vec<u32>> = chunk.iter().map(|&i| rows[i].tokens.clone()).collect();
            let batch = TokenBatch::right_padded(&ids, 0).map_err(llm("batching"))?;
            let hidden = m
                .forward_continuations(&cache, &batch)
                .map_err(llm("running continuations"))?;
            for (row, &i) in chunk.iter().enumerate() {
                row_log_probs[i] = self.log_probs(&hidden, row, &picks[i])?;
            }
        }
        let scores = Self::option_scores(&plans, &read_from, &row_log_probs);
        Ok(ScoredTask {
            predictions: predictions(task, &scores),
            prefix_tokens: prefix.len(),
            continuation_tokens: rows.iter().map(|r| r.tokens.len()).sum(),
        })
    }

    /// Scores a task running every question from scratch (a fresh cache per row): the
    /// reference the shared-prefix path must equal, and the baseline it is benchmarked against.
    pub fn score_fresh(&self, task: &ProbeTask) -> Result<ScoredTask> {
        let (prefix, plans) = self.plan(task)?;
        let m = &self.model.model;
        let (rows, read_from) = Self::rows(&plans);
        let picks = Self::picks(&rows, &plans);
        let mut row_log_probs = Vec::with_capacity(rows.len());
        for (row, positions) in rows.iter().zip(&picks) {
            let whole: Vec<u32> = prefix.iter().chain(&row.tokens).copied().collect();
            let mut cache: KvCache = m.new_cache(1);
            let hidden = m
                .forward(&TokenBatch::single(&whole), &mut cache)
                .map_err(llm("running a question"))?;
            let shifted: Vec<usize> = positions.iter().map(|&p| prefix.len() + p).collect();
            row_log_probs.push(self.log_probs(&hidden, 0, &shifted)?);
        }
        let scores = Self::option_scores(&plans, &read_from, &row_log_probs);
        Ok(ScoredTask {
            predictions: predictions(task, &scores),
            prefix_tokens: prefix.len(),
            continuation_tokens: rows.iter().map(|r| r.tokens.len()).sum(),
        })
    }
}

/// A sequence run after the shared prefix for one question (`option` None: the continuation
/// alone, for one-token labels) or one option.
struct Row {
    question: usize,
    option: Option<usize>,
    tokens: Vec<u32>,
}

/// Predictions from option scores: probabilities by softmax over each question's options, the
/// prediction the most probable option (the first on a tie).
fn predictions(task: &ProbeTask, scores: &[Vec<f64>]) -> Vec<Prediction> {
    task.probes
        .iter()
        .zip(scores)
        .map(|(probe, scores)| {
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            let probs: Vec<f32> = exp.iter().map(|e| (e / sum) as f32).collect();
            let predicted = probs
                .iter()
                .enumerate()
                .fold(0, |best, (i, &p)| if p > probs[best] { i } else { best });
            Prediction::new(
                task.person,
                task.setup,
                &probe.question,
                task.probe_granularity,
                Some(predicted as u8),
                probe.gold,
                Some(probs),
            )
        })
        .collect()
}

/// Per probe of `task`, the full chat text scored for every option with `target` (see
/// [`ScoreTarget`]): what [`ScoringPredictor`] runs through the model.
pub fn scored_texts(
    prompts: &PromptBuilder<'_>,
    template: &indievalue_llm::ChatTemplate,
    target: ScoreTarget,
    task: &ProbeTask,
) -> Result<Vec<Vec<String>>> {
    let known = prompts.known_statements(task)?;
    if target == ScoreTarget::Statement {
        const CUT: &str = "\u{1}";
        let user = format!("{}{CUT}", PromptBuilder::statement_list_head(&known));
        let chat = template
            .render(&[ChatMessage::user(user)], false)
            .map_err(llm("rendering the chat template"))?;
        // The statements are scored inside the user turn: cut the rendered chat where the
        // user's text ends.
        let Some((head, _)) = chat.split_once(CUT) else {
            return Err(Error::Task(
                "the chat template does not keep the user's text verbatim".into(),
            ));
        };
        return task
            .probes
            .iter()
            .map(|probe| {
                Ok(prompts
                    .probe_options(task, probe)?
                    .iter()
                    .map(|statement| format!("{head}{statement}"))
                    .collect())
            })
            .collect();
    }
    task.probes
        .iter()
        .map(|probe| {
            let user = prompts.question_prompt_with(&known, task, probe)?;
            let chat = template
                .render(&[ChatMessage::user(user)], true)
                .map_err(llm("rendering the chat template"))?;
            let options = prompts.probe_options(task, probe)?;
            Ok(options
                .iter()
                .enumerate()
                .map(|(i, statement)| match target {
                    ScoreTarget::Label => format!("{chat}{}", option_label(i)),
                    ScoreTarget::Answer | ScoreTarget::Statement => {
                        format!("{chat}{}", option_answer(i, statement))
                    }
                })
                .collect())
        })
        .collect()
}

/// Settings of generative probing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSettings {
    /// Most tokens generated per attempt.
    pub max_new_tokens: usize,
    /// Extra attempts when an answer leaves groups without a valid choice.
    pub retries: usize,
    /// Sampling temperature of the retries (the first attempt is greedy).
    pub retry_temperature: f64,
    /// Seed of the retries' sampling (streams derived per person, setup and attempt).
    pub seed: u64,
}

impl Default for GenerationSettings {
    /// 2,048 new tokens, 2 retries at temperature 0.7, seed 0.
    fn default() -> Self {
        GenerationSettings {
            max_new_tokens: 2048,
            retries: 2,
            retry_temperature: 0.7,
            seed: 0,
        }
    }
}

impl GenerationSettings {
    /// The temperature of attempt `attempt`: greedy first, then [`Self::retry_temperature`].
    pub fn temperature(&self, attempt: usize) -> f64 {
        if attempt == 0 {
            0.0
        } else {
            self.retry_temperature
        }
    }

    /// The random stream of one attempt's sampling, derived from the seed, the task's person
    /// and setup, and the attempt, so a rerun samples the same tokens.
    pub fn attempt_rng(&self, task: &ProbeTask, attempt: usize) -> Rng {
        Rng::derive(
            self.seed,
            &[
                label("generative-retry"),
                task.person as u64,
                task.setup as u64,
                attempt as u64,
            ],
        )
    }
}

/// One attempt of generative probing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// 0 for greedy decoding.
    pub temperature: f64,
    /// The raw answer.
    pub answer: String,
    /// Tokens generated.
    pub tokens: usize,
    /// Whether generation stopped at the token limit.
    pub hit_limit: bool,
    /// The parse.
    pub parsed: ParsedAnswer,
}

/// A task probed generatively.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratedTask {
    /// The person.
    pub person: i64,
    /// The setup.
    pub setup: usize,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Every attempt, in order; the predictions come from the one with most valid groups
    /// (the earliest among equals).
    pub attempts: Vec<Attempt>,
    /// One prediction per probe (`None` where the chosen attempt has no valid choice).
    pub predictions: Vec<Prediction>,
}

impl GeneratedTask {
    /// The task's result from its attempts: predictions from the attempt with most valid
    /// groups (the earliest among equals), `None` where that attempt has no valid choice.
    pub fn from_attempts(task: &ProbeTask, prompt_tokens: usize, attempts: Vec<Attempt>) -> Self {
        let best = attempts.iter().enumerate().fold(0, |b, (i, a)| {
            if a.parsed.valid() > attempts[b].parsed.valid() {
                i
            } else {
                b
            }
        });
        let predictions = match attempts.get(best) {
            Some(chosen) => task
                .probes
                .iter()
                .zip(&chosen.parsed.groups)
                .map(|(probe, g)| {
                    Prediction::new(
                        task.person,
                        task.setup,
                        &probe.question,
                        task.probe_granularity,
                        g.as_ref().ok().copied(),
                        probe.gold,
                        None,
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        GeneratedTask {
            person: task.person,
            setup: task.setup,
            prompt_tokens,
            attempts,
            predictions,
        }
    }
}

/// The paper's protocol: the probing prompt of Appendix B.1, greedy decoding to a token limit,
/// then the JSON answer parsed by key. Answers leaving groups without a valid choice are retried
/// up to [`GenerationSettings::retries`] times with sampling at
/// [`GenerationSettings::retry_temperature`]; every attempt is recorded.
pub struct GenerativePredictor<'a> {
    model: &'a LoadedModel,
    prompts: PromptBuilder<'a>,
    settings: GenerationSettings,
}

impl<'a> GenerativePredictor<'a> {
    /// A predictor for tasks of `catalog`.
    pub fn new(
        model: &'a LoadedModel,
        catalog: &'a Catalog,
        settings: GenerationSettings,
    ) -> GenerativePredictor<'a> {
        GenerativePredictor {
            model,
            prompts: PromptBuilder::new(catalog),
            settings,
        }
    }

    /// Token ids of the task's chat-rendered probing prompt.
    pub fn prompt_tokens(&self, task: &ProbeTask) -> Result<Vec<u32>> {
        let user = self.prompts.probing_prompt(task)?;
        let text = self
            .model
            .chat_template
            .render(&[ChatMessage::user(user)], true)
            .map_err(llm("rendering the chat template"))?;
        tokenizer(self.model)?
            .encode(&text)
            .map_err(llm("tokenizing"))
    }

    /// Probes a task.
    pub fn probe(&self, task: &ProbeTask) -> Result<GeneratedTask> {
        let prompt = self.prompt_tokens(task)?;
        let m = &self.model.model;
        let prefill = Prefill::run(m, &prompt).map_err(llm("running the prompt"))?;
        let stop = StopCriteria {
            stop_tokens: self.model.stop_tokens.clone(),
            max_new_tokens: self.settings.max_new_tokens,
        };
        let options: Vec<u8> = task.probes.iter().map(|p| p.options).collect();
        let tok = tokenizer(self.model)?;
        let mut attempts: Vec<Attempt> = Vec::new();
        for attempt in 0..=self.settings.retries {
            let temperature = self.settings.temperature(attempt);
            let rng = self.settings.attempt_rng(task, attempt);
            let mut choice = TokenChoice::sampled(temperature, rng);
            let generation = generate(m, &prefill, &mut choice, &stop).map_err(llm("decoding"))?;
            let hit_limit = generation.hit_limit();
            let tokens = generation.tokens;
            let answer = tok.decode(&tokens).map_err(llm("decoding tokens"))?;
            let parsed = parse_answer(&answer, &options);
            let complete = parsed.valid() == options.len();
            attempts.push(Attempt {
                temperature,
                answer,
                tokens: tokens.len(),
                hit_limit,
                parsed,
            });
            if complete {
                break;
            }
        }
        Ok(GeneratedTask::from_attempts(task, prompt.len(), attempts))
    }
}
