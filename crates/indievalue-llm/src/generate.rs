//! Text generation: the decode loop over a [`KvCache`], the choice of each next token (greedy,
//! or sampled at a temperature from a seeded [`Rng`] stream), the log-softmax of logits, and
//! when to stop (stop tokens, a limit on new tokens).
//!
//! A prompt is run once ([`Prefill::run`]); any number of generations can start from it, each
//! on its own copy of the cache (cheap: tensors are reference counted).
//!
//! ```
//! use indievalue_llm::generate::{Prefill, StopCriteria, TokenChoice, generate};
//! use indievalue_llm::{DType, Device, Kernels, Llama, LlamaConfig};
//! let config = LlamaConfig::from_json_str(r#"{"hidden_size": 16, "intermediate_size": 32,
//!     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
//!     "vocab_size": 10, "rms_norm_eps": 1e-5}"#, "inline").unwrap();
//! let varmap = candle_nn::VarMap::new();
//! let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let model = Llama::from_var_builder(config, &vb, Kernels::Fused, 0.1).unwrap();
//!
//! let prompt = Prefill::run(&model, &[1, 2, 3]).unwrap();
//! assert_eq!(prompt.log_probs.len(), 10);
//! let limits = StopCriteria { stop_tokens: vec![], max_new_tokens: 4 };
//! let out = generate(&model, &prompt, &mut TokenChoice::Greedy, &limits).unwrap();
//! assert_eq!(out.tokens.len(), 4);
//! assert!(out.hit_limit());
//! // Greedy decoding is deterministic; the prompt's cache is left as it was.
//! let again = generate(&model, &prompt, &mut TokenChoice::Greedy, &limits).unwrap();
//! assert_eq!(again.tokens, out.tokens);
//! assert_eq!(prompt.cache.len(), 3);
//!
//! // Sampling draws from a seeded stream: the same seed gives the same tokens.
//! let sample = |seed| {
//!     let mut choice = TokenChoice::sampled(0.7, indievalue_rng::Rng::new(seed));
//!     generate(&model, &prompt, &mut choice, &limits).unwrap().tokens
//! };
//! assert_eq!(sample(7), sample(7));
//! ```

use crate::{Error, KvCache, Llama, Result, TokenBatch};
use candle_core::{DType, Tensor};
use indievalue_rng::Rng;

fn candle(context: &str) -> impl FnOnce(candle_core::Error) -> Error + '_ {
    move |source| Error::Candle {
        context: context.to_owned(),
        source,
    }
}

/// Log-softmax of every row of `[.., vocab]` logits, as f32 values (one vector per row).
///
/// Computed on the CPU from f32 logits (any dtype is converted first): per row, the maximum is
/// subtracted and the sum of exponentials is accumulated in f64.
///
/// ```
/// use indievalue_llm::{Device, Tensor, log_softmax_rows};
/// let logits = Tensor::new(&[[0f32, 0.0], [1.0, 3.0]], &Device::Cpu).unwrap();
/// let rows = log_softmax_rows(&logits).unwrap();
/// assert_eq!(rows.len(), 2);
/// assert!((rows[0][0] - (0.5f32).ln()).abs() < 1e-6);
/// assert!(rows[1][1] > rows[1][0]);
/// ```
pub fn log_softmax_rows(logits: &Tensor) -> Result<Vec<Vec<f32>>> {
    let vocab = logits.dims().last().copied().unwrap_or(1).max(1);
    let v = logits
        .flatten_all()
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(candle("reading logits"))?;
    Ok(v.chunks(vocab)
        .map(|row| {
            let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|&x| f64::from(x - max).exp()).sum();
            let log_sum = sum.ln() as f32 + max;
            row.iter().map(|&x| x - log_sum).collect()
        })
        .collect())
}

/// The log-probabilities of the last row of `[.., vocab]` logits (the only one of the
/// `[1, 1, vocab]` logits of one decoding step); [`Error::Input`] when there is none.
pub fn log_softmax_last(logits: &Tensor) -> Result<Vec<f32>> {
    log_softmax_rows(logits)?
        .pop()
        .ok_or_else(|| Error::Input("no logits".into()))
}

/// How each next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenChoice {
    /// The most probable token (the lowest id among equals). Draws nothing.
    Greedy,
    /// A token drawn with probability proportional to `exp(log_prob / temperature)`, one
    /// [`Rng::unit`] per token from `rng` (a temperature of zero or less is greedy and draws
    /// nothing).
    Sample {
        /// Softmax temperature (1: the model's own distribution).
        temperature: f64,
        /// The random stream; it advances by one draw per sampled token.
        rng: Rng,
    },
}

impl TokenChoice {
    /// Greedy for a temperature of zero or less, else sampling at `temperature` from `rng`.
    pub fn sampled(temperature: f64, rng: Rng) -> TokenChoice {
        if temperature <= 0.0 {
            TokenChoice::Greedy
        } else {
            TokenChoice::Sample { temperature, rng }
        }
    }

    /// The next token given the log-probabilities (or logits: only their differences matter)
    /// of the vocabulary.
    ///
    /// ```
    /// use indievalue_llm::TokenChoice;
    /// assert_eq!(TokenChoice::Greedy.choose(&[-2.0, -0.5, -0.5, -3.0]), 1);
    /// let mut hot = TokenChoice::sampled(1.0, indievalue_rng::Rng::new(3));
    /// assert!(hot.choose(&[-2.0, -0.5, -0.5, -3.0]) < 4);
    /// ```
    pub fn choose(&mut self, log_probs: &[f32]) -> u32 {
        match self {
            TokenChoice::Greedy => greedy(log_probs),
            TokenChoice::Sample { temperature, rng } => choose(log_probs, *temperature, rng),
        }
    }
}

/// The first maximum.
fn greedy(log_probs: &[f32]) -> u32 {
    log_probs
        .iter()
        .enumerate()
        .fold(0, |b, (i, &x)| if x > log_probs[b] { i } else { b }) as u32
}

/// Greedy (temperature 0 or less) or sampled choice of the next token: the walk over the
/// tempered weights of one uniform draw (the last token if rounding leaves some of the draw
/// over).
fn choose(log_probs: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
    if temperature <= 0.0 {
        return greedy(log_probs);
    }
    let max = log_probs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = log_probs
        .iter()
        .map(|&x| (f64::from(x - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.unit() * total;
    for (i, w) in weights.iter().enumerate() {
        u -= w;
        if u <= 0.0 {
            return i as u32;
        }
    }
    (weights.len() - 1) as u32
}

/// When generation stops.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopCriteria {
    /// Tokens that end the answer (end-of-sequence, end-of-turn: usually
    /// [`crate::LoadedModel::stop_tokens`]); a chosen stop token is not part of the output.
    pub stop_tokens: Vec<u32>,
    /// Most tokens generated. At least one token is generated unless the first chosen is a stop
    /// token, so 0 acts as 1.
    pub max_new_tokens: usize,
}

/// A prompt run through a model: its cache and the log-probabilities of the token after it,
/// where generations start.
#[derive(Debug, Clone)]
pub struct Prefill {
    /// Keys and values of the prompt (one row).
    pub cache: KvCache,
    /// Log-probabilities over the vocabulary of the token after the prompt.
    pub log_probs: Vec<f32>,
}

impl Prefill {
    /// Runs `prompt` (not empty) through `model`.
    pub fn run(model: &Llama, prompt: &[u32]) -> Result<Prefill> {
        if prompt.is_empty() {
            return Err(Error::Input("an empty prompt".into()));
        }
        let mut cache = model.new_cache(1);
        let hidden = model.forward(&TokenBatch::single(prompt), &mut cache)?;
        let last = hidden
            .narrow(1, prompt.len() - 1, 1)
            .map_err(candle("last position"))?;
        let log_probs = log_softmax_last(&model.logits(&last)?)?;
        Ok(Prefill { cache, log_probs })
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// This stop token was chosen (it is not in the output).
    Stop(u32),
    /// [`StopCriteria::max_new_tokens`] tokens were generated.
    Limit,
}

/// The output of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The tokens generated, without the stop token.
    pub tokens: Vec<u32>,
    /// Why generation stopped.
    pub finish: Finish,
}

impl Generation {
    /// Whether generation stopped at the token limit.
    pub fn hit_limit(&self) -> bool {
        self.finish == Finish::Limit
    }
}

/// Generates from a prompt already run ([`Prefill::run`]; its cache is cloned, not changed):
/// chooses a token from the prompt's log-probabilities, stops if it is a stop token, else keeps
/// it, stops if `stop.max_new_tokens` are kept, else runs it through the model for the next
/// log-probabilities, and so on.
pub fn generate(
    model: &Llama,
    from: &Prefill,
    choice: &mut TokenChoice,
    stop: &StopCriteria,
) -> Result<Generation> {
    let mut cache = from.cache.clone();
    let mut tokens = Vec::new();
    let mut log_probs = from.log_probs.clone();
    loop {
        let next = choice.choose(&log_probs);
        if stop.stop_tokens.contains(&next) {
            return Ok(Generation {
                tokens,
                finish: Finish::Stop(next),
            });
        }
        tokens.push(next);
        if tokens.len() >= stop.max_new_tokens {
            return Ok(Generation {
                tokens,
                finish: Finish::Limit,
            });
        }
        let hidden = model.forward(&TokenBatch::single(&[next]), &mut cache)?;
        log_probs = log_softmax_last(&model.logits(&hidden)?)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Device, Kernels, LlamaConfig};

    /// The choice of `indievalue-probe` before it moved here, verbatim.
    fn reference_choose(log_probs: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
        if temperature <= 0.0 {
            return log_probs
                .iter()
                .enumerate()
                .fold(0, |b, (i, &x)| if x > log_probs[b] { i } else { b })
                as u32;
        }
        let max = log_probs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f64> = log_probs
            .iter()
            .map(|&x| (f64::from(x - max) / temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut u = rng.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            u -= w;
            if u <= 0.0 {
                return i as u32;
            }
        }
        (weights.len() - 1) as u32
    }

    #[test]
    fn greedy_takes_the_first_maximum_and_draws_nothing() {
        assert_eq!(TokenChoice::Greedy.choose(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(TokenChoice::Greedy.choose(&[f32::NAN, 3.0, 2.0]), 0);
        assert_eq!(TokenChoice::Greedy.choose(&[0.0, f32::NAN, 2.0]), 2);
        assert_eq!(TokenChoice::Greedy.choose(&[5.0]), 0);
        for t in [0.0, -1.0] {
            let rng = Rng::new(1);
            let mut choice = TokenChoice::sampled(t, rng.clone());
            assert_eq!(choice, TokenChoice::Greedy);
            // A Sample variant built by hand with such a temperature is greedy too.
            let mut by_hand = TokenChoice::Sample {
                temperature: t,
                rng: rng.clone(),
            };
            assert_eq!(by_hand.choose(&[1.0, 3.0, 3.0]), 1);
            assert_eq!(
                by_hand,
                TokenChoice::Sample {
                    temperature: t,
                    rng
                }
            );
            assert_eq!(choice.choose(&[1.0, 3.0, 3.0]), 1);
        }
    }

    #[test]
    fn sampling_walks_the_tempered_weights_as_before() {
        let mut stream = Rng::new(99);
        for case in 0..300u64 {
            let n = 1 + (case % 17) as usize;
            let log_probs: Vec<f32> = (0..n)
                .map(|_| (stream.unit() * 12.0 - 10.0) as f32)
                .collect();
            let temperature = [0.0, 0.3, 0.7, 1.0, 2.5, f64::NAN][(case % 6) as usize];
            let mut theirs = Rng::derive(case, &[7]);
            let mut ours = TokenChoice::sampled(temperature, theirs.clone());
            for _ in 0..5 {
                let want = reference_choose(&log_probs, temperature, &mut theirs);
                assert_eq!(ours.choose(&log_probs), want, "case {case}");
            }
            if let TokenChoice::Sample { rng, .. } = &mut ours {
                assert_eq!(rng.next_u64(), theirs.next_u64(), "streams advance alike");
            }
        }
        // Nearly all weight on one token: it is drawn.
        let mut c = TokenChoice::sampled(1.0, Rng::new(5));
        assert_eq!(c.choose(&[-50.0, 0.0, -50.0]), 1);
    }

    #[test]
    fn log_softmax_rows_normalise_in_f64() {
        let logits = Tensor::new(&[[[1f32, 2.0, 3.0]], [[0.0, 0.0, 1000.0]]], &Device::Cpu)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let rows = log_softmax_rows(&logits).unwrap();
        assert_eq!(rows.len(), 2);
        let total: f64 = rows[0].iter().map(|&x| f64::from(x).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert_eq!(rows[1][2], 0.0);
        assert_eq!(log_softmax_last(&logits).unwrap(), rows[1]);
        let empty = Tensor::zeros((0, 3), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(log_softmax_last(&empty), Err(Error::Input(_))));
    }

    fn tiny_model() -> Llama {
        let config = LlamaConfig::from_json_str(
            r#"{"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
                "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 12,
                "rms_norm_eps": 1e-5}"#,
            "inline",
        )
        .unwrap();
        let varmap = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        Llama::from_var_builder(config, &vb, Kernels::Fused, 1.0).unwrap()
    }

    #[test]
    fn generation_stops_at_stop_tokens_and_the_limit() {
        let model = tiny_model();
        let prompt = Prefill::run(&model, &[1, 2, 3, 4]).unwrap();
        let free = |max_new_tokens| StopCriteria {
            stop_tokens: vec![],
            max_new_tokens,
        };
        let long = generate(&model, &prompt, &mut TokenChoice::Greedy, &free(12)).unwrap();
        assert_eq!((long.tokens.len(), long.finish), (12, Finish::Limit));
        // A shorter limit gives a prefix of the same tokens; 0 acts as 1.
        let short = generate(&model, &prompt, &mut TokenChoice::Greedy, &free(3)).unwrap();
        assert_eq!(short.tokens, long.tokens[..3]);
        assert!(short.hit_limit());
        let one = generate(&model, &prompt, &mut TokenChoice::Greedy, &free(0)).unwrap();
        assert_eq!(one.tokens, long.tokens[..1]);
        // Stopping at a token generated later: the output is what came before it.
        let stop_at = long.tokens[5];
        let first = long.tokens.iter().position(|&t| t == stop_at).unwrap();
        let stop = StopCriteria {
            stop_tokens: vec![stop_at],
            max_new_tokens: 12,
        };
        let stopped = generate(&model, &prompt, &mut TokenChoice::Greedy, &stop).unwrap();
        assert_eq!(stopped.tokens, long.tokens[..first]);
        assert_eq!(stopped.finish, Finish::Stop(stop_at));
        assert!(!stopped.hit_limit());
        // The first token a stop token: nothing generated.
        let immediate = StopCriteria {
            stop_tokens: vec![long.tokens[0]],
            max_new_tokens: 12,
        };
        let none = generate(&model, &prompt, &mut TokenChoice::Greedy, &immediate).unwrap();
        assert_eq!(none.tokens, Vec::<u32>::new());
        assert_eq!(none.finish, Finish::Stop(long.tokens[0]));
        // Greedy generation equals choosing each step's argmax over a from-scratch run's
        // logits, up to float noise: checked on the token sequence's own logits.
        let mut whole = vec![1, 2, 3, 4];
        whole.extend_from_slice(&long.tokens);
        let logits = model.forward_logits(&TokenBatch::single(&whole)).unwrap();
        let rows = log_softmax_rows(&logits).unwrap();
        for (i, &t) in long.tokens.iter().enumerate() {
            let row = &rows[3 + i];
            let best = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert!(best - row[t as usize] < 1e-4, "step {i}");
        }
    }

    #[test]
    fn sampled_generation_follows_its_seed() {
        let model = tiny_model();
        let prompt = Prefill::run(&model, &[5, 6]).unwrap();
        let stop = StopCriteria {
            stop_tokens: vec![],
            max_new_tokens: 20,
        };
        let run = |seed| {
            let mut choice = TokenChoice::sampled(1.5, Rng::derive(seed, &[1]));
            generate(&model, &prompt, &mut choice, &stop)
                .unwrap()
                .tokens
        };
        assert_eq!(run(1), run(1));
        assert!(
            (2..10).any(|s| run(s) != run(1)),
            "seeds give different samples"
        );
        // Each step draws once: the same walk by hand over the cached steps.
        let mut rng = Rng::derive(1, &[1]);
        let mut cache = prompt.cache.clone();
        let mut log_probs = prompt.log_probs.clone();
        let mut by_hand = Vec::new();
        for _ in 0..20 {
            let t = reference_choose(&log_probs, 1.5, &mut rng);
            by_hand.push(t);
            let h = model
                .forward(&TokenBatch::single(&[t]), &mut cache)
                .unwrap();
            log_probs = log_softmax_last(&model.logits(&h).unwrap()).unwrap();
        }
        assert_eq!(run(1), by_hand);
        assert!(matches!(Prefill::run(&model, &[]), Err(Error::Input(_))));
    }
}
