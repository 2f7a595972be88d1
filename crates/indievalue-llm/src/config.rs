//! Llama-3.x hyper-parameters, from a Hugging Face `config.json` or GGUF metadata.

use crate::{Error, GgufMetadata, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How rotary position embeddings scale their frequencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RopeScaling {
    /// No scaling (`rope_type` `default`, or no `rope_scaling` at all).
    None,
    /// Llama 3.1's scaling (`rope_type` `llama3`): low frequencies divided by `factor`, high ones
    /// kept, a smooth blend in between.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context length the model was first trained on.
        original_max_position_embeddings: f64,
    },
    /// Per-frequency divisors (GGUF `rope_freqs.weight`, as llama.cpp stores Llama 3.1's scaling).
    FrequencyFactors(Vec<f32>),
}

/// The hyper-parameters of a Llama-3.x model.
///
/// ```
/// let json = r#"{"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
///   "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256,
///   "rms_norm_eps": 1e-5, "rope_theta": 500000.0}"#;
/// let c = indievalue_llm::LlamaConfig::from_json_str(json, "config.json").unwrap();
/// assert_eq!(c.head_dim, 16);
/// assert!(!c.tie_word_embeddings);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of transformer blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than query heads).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Epsilon of the RMS norms.
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies.
    pub rope_theta: f64,
    /// Frequency scaling.
    pub rope_scaling: RopeScaling,
    /// Whether the output projection is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Longest context the model supports (informational).
    pub max_position_embeddings: usize,
}

/// The subset of a Hugging Face `config.json` that matters here.
#[derive(Deserialize)]
struct HfConfig {
    model_type: Option<String>,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    vocab_size: usize,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    rope_scaling: Option<serde_json::Value>,
    /// transformers 5 writes the rope settings here.
    rope_parameters: Option<serde_json::Value>,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "default_max_positions")]
    max_position_embeddings: usize,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    hidden_act: Option<String>,
}

/// `x` as the shortest decimal that reads back to the same f32 (GGUF stores f32: 1e-5, not
/// 9.999999747378752e-6).
fn shortest(x: f64) -> f64 {
    format!("{}", x as f32).parse().unwrap_or(x)
}

fn llama3_json(factor: f64, low: f64, high: f64, original: f64) -> serde_json::Value {
    serde_json::json!({
        "rope_type": "llama3",
        "factor": factor,
        "low_freq_factor": low,
        "high_freq_factor": high,
        "original_max_position_embeddings": original as u64,
    })
}

fn default_eps() -> f64 {
    1e-6
}

fn default_max_positions() -> usize {
    8192
}

impl LlamaConfig {
    /// Reads a Hugging Face `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<LlamaConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses a Hugging Face `config.json` text; `origin` names it in errors.
    pub fn from_json_str(text: &str, origin: &str) -> Result<LlamaConfig> {
        let err = |message: String| Error::Config {
            origin: origin.to_owned(),
            message,
        };
        let hf: HfConfig = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        if let Some(t) = &hf.model_type
            && t != "llama"
        {
            return Err(err(format!(
                "model_type {t:?} is not supported (only \"llama\")"
            )));
        }
        if hf.attention_bias || hf.mlp_bias {
            return Err(err("attention_bias / mlp_bias are not supported".into()));
        }
        if let Some(act) = &hf.hidden_act
            && act != "silu"
        {
            return Err(err(format!(
                "hidden_act {act:?} is not supported (only \"silu\")"
            )));
        }
        let params = hf.rope_scaling.as_ref().or(hf.rope_parameters.as_ref());
        let theta = hf
            .rope_theta
            .or_else(|| {
                hf.rope_parameters
                    .as_ref()
                    .and_then(|p| p.get("rope_theta"))
                    .and_then(|v| v.as_f64())
            })
            .unwrap_or(10_000.0);
        let rope_scaling = match params {
            None | Some(serde_json::Value::Null) => RopeScaling::None,
            Some(p) => {
                let kind = p
                    .get("rope_type")
                    .or_else(|| p.get("type"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("default");
                let num = |key: &str| -> Result<f64> {
                    p.get(key)
                        .and_then(|v| v.as_f64())
                        .ok_or_else(|| err(format!("rope_scaling.{key} is missing")))
                };
                match kind {
                    "default" => RopeScaling::None,
                    "llama3" => RopeScaling::Llama3 {
                        factor: num("factor")?,
                        low_freq_factor: num("low_freq_factor")?,
                        high_freq_factor: num("high_freq_factor")?,
                        original_max_position_embeddings: num("original_max_position_embeddings")?,
                    },
                    other => {
                        return Err(err(format!(
                            "rope_scaling type {other:?} is not supported (default, llama3)"
                        )));
                    }
                }
            }
        };
        let heads = hf.num_attention_heads;
        let config = LlamaConfig {
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: hf.num_key_value_heads.unwrap_or(heads),
            head_dim: hf
                .head_dim
                .unwrap_or(hf.hidden_size.checked_div(heads).unwrap_or(0)),
            vocab_size: hf.vocab_size,
            rms_norm_eps: hf.rms_norm_eps,
            rope_theta: theta,
            rope_scaling,
            tie_word_embeddings: hf.tie_word_embeddings,
            max_position_embeddings: hf.max_position_embeddings,
        };
        config.validate().map_err(err)?;
        Ok(config)
    }

    /// Reads the hyper-parameters of a GGUF file of architecture `llama`. The vocabulary size
    /// comes from the tokenizer's token list; per-frequency rope factors, if the file has them,
    /// are set by the loader.
    /// `origin` names the file in errors.
    pub fn from_gguf(meta: &GgufMetadata, origin: &Path) -> Result<LlamaConfig> {
        let origin = origin.display().to_string();
        let err = |message: String| Error::Config {
            origin: origin.clone(),
            message,
        };
        let arch = meta.get_str("general.architecture").unwrap_or("");
        if arch != "llama" {
            return Err(err(format!(
                "general.architecture {arch:?} is not supported (only \"llama\")"
            )));
        }
        let int = |key: &str| -> Result<usize> {
            meta.get_u64(&format!("llama.{key}"))
                .map(|v| v as usize)
                .ok_or_else(|| err(format!("llama.{key} is missing")))
        };
        let float = |key: &str| meta.get(&format!("llama.{key}")).and_then(|v| v.as_f64());
        let hidden = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let vocab = match meta.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()) {
            Some(tokens) => tokens.len(),
            None => int("vocab_size")?,
        };
        let head_dim = match meta.get_u64("llama.attention.key_length") {
            Some(v) => v as usize,
            None if heads > 0 => hidden / heads,
            None => 0,
        };
        let config = LlamaConfig {
            hidden_size: hidden,
            intermediate_size: int("feed_forward_length")?,
            num_hidden_layers: int("block_count")?,
            num_attention_heads: heads,
            num_key_value_heads: meta
                .get_u64("llama.attention.head_count_kv")
                .map(|v| v as usize)
                .unwrap_or(heads),
            head_dim,
            vocab_size: vocab,
            rms_norm_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope_scaling: RopeScaling::None,
            tie_word_embeddings: false,
            max_position_embeddings: meta
                .get_u64("llama.context_length")
                .map(|v| v as usize)
                .unwrap_or(8192),
        };
        config.validate().map_err(err)?;
        Ok(config)
    }

    /// Checks that the shapes fit together.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let c = self;
        if c.hidden_size == 0
            || c.intermediate_size == 0
            || c.num_hidden_layers == 0
            || c.num_attention_heads == 0
            || c.num_key_value_heads == 0
            || c.vocab_size == 0
        {
            return Err("sizes, layer and head counts must be positive".into());
        }
        if !c.num_attention_heads.is_multiple_of(c.num_key_value_heads) {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                c.num_attention_heads, c.num_key_value_heads
            ));
        }
        if c.head_dim == 0 || !c.head_dim.is_multiple_of(2) {
            return Err(format!("head_dim {} must be even and positive", c.head_dim));
        }
        if !(c.rms_norm_eps > 0.0 && c.rope_theta > 0.0) {
            return Err("rms_norm_eps and rope_theta must be positive".into());
        }
        if let RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } = c.rope_scaling
            && !(factor > 0.0
                && high_freq_factor > low_freq_factor
                && low_freq_factor > 0.0
                && original_max_position_embeddings > 0.0)
        {
            return Err(
                "llama3 rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0"
                    .into(),
            );
        }
        if let RopeScaling::FrequencyFactors(f) = &c.rope_scaling
            && f.len() != c.head_dim / 2
        {
            return Err(format!(
                "{} rope frequency factors for head_dim {}",
                f.len(),
                c.head_dim
            ));
        }
        Ok(())
    }

    /// The inverse rotary frequencies, one per pair of head dimensions, computed as
    /// `transformers` does (in `f32`), with the configured scaling applied.
    pub fn inverse_frequencies(&self) -> Vec<f32> {
        let d = self.head_dim;
        (0..d / 2)
            .map(|i| {
                // transformers: 1 / base ** (arange(0, d, 2).float() / d), in float32.
                let exponent = (2 * i) as f32 / d as f32;
                let freq = 1.0f32 / (self.rope_theta as f32).powf(exponent);
                match &self.rope_scaling {
                    RopeScaling::None => freq,
                    RopeScaling::FrequencyFactors(f) => freq / f[i],
                    RopeScaling::Llama3 {
                        factor,
                        low_freq_factor,
                        high_freq_factor,
                        original_max_position_embeddings,
                    } => {
                        let (factor, low, high, orig) = (
                            *factor as f32,
                            *low_freq_factor as f32,
                            *high_freq_factor as f32,
                            *original_max_position_embeddings as f32,
                        );
                        let low_freq_wavelen = orig / low;
                        let high_freq_wavelen = orig / high;
                        let wavelen = 2.0 * std::f32::consts::PI / freq;
                        if wavelen < high_freq_wavelen {
                            freq
                        } else if wavelen > low_freq_wavelen {
                            freq / factor
                        } else {
                            let smooth = (orig / wavelen - low) / (high - low);
                            (1.0 - smooth) * freq / factor + smooth * freq
                        }
                    }
                }
            })
            .collect()
    }

    /// A Hugging Face `config.json` for these hyper-parameters (`LlamaForCausalLM`, weights
    /// stored in `dtype`), as transformers reads it. GGUF files store Llama 3.1's rope scaling
    /// as per-frequency factors; they are written back as the `llama3` scaling they match
    /// (factor 8 or 32, low 1, high 4, 8,192 original positions), and any other factors are an
    /// error: `config.json` cannot express them.
    pub fn to_hf_config(&self, dtype: candle_core::DType) -> Result<serde_json::Value> {
        let rope_scaling = match &self.rope_scaling {
            RopeScaling::None => serde_json::Value::Null,
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => llama3_json(
                *factor,
                *low_freq_factor,
                *high_freq_factor,
                *original_max_position_embeddings,
            ),
            RopeScaling::FrequencyFactors(factors) => self.llama3_matching(factors)?,
        };
        let dtype = match dtype {
            candle_core::DType::F32 => "float32",
            candle_core::DType::BF16 => "bfloat16",
            candle_core::DType::F16 => "float16",
            other => {
                return Err(Error::Config {
                    origin: "config.json".into(),
                    message: format!("no Hugging Face name for dtype {other:?}"),
                });
            }
        };
        Ok(serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "rms_norm_eps": shortest(self.rms_norm_eps),
            "rope_theta": shortest(self.rope_theta),
            "rope_scaling": rope_scaling,
            "tie_word_embeddings": self.tie_word_embeddings,
            "max_position_embeddings": self.max_position_embeddings,
            "hidden_act": "silu",
            "attention_bias": false,
            "mlp_bias": false,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": true,
            "torch_dtype": dtype,
        }))
    }

    /// The `llama3` rope scaling whose frequencies these per-frequency factors give.
    fn llama3_matching(&self, factors: &[f32]) -> Result<serde_json::Value> {
        let plain = LlamaConfig {
            rope_scaling: RopeScaling::None,
            ..self.clone()
        }
        .inverse_frequencies();
        let want: Vec<f32> = plain.iter().zip(factors).map(|(f, k)| f / k).collect();
        for factor in [8.0, 32.0, 16.0, 4.0] {
            let scaling = RopeScaling::Llama3 {
                factor,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192.0,
            };
            let got = LlamaConfig {
                rope_scaling: scaling,
                ..self.clone()
            }
            .inverse_frequencies();
            let close = got.len() == want.len()
                && got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| (a - b).abs() <= 1e-4 * b.abs());
            if close {
                return Ok(llama3_json(factor, 1.0, 4.0, 8192.0));
            }
        }
        Err(Error::Config {
            origin: "config.json".into(),
            message: "the GGUF file's rope frequency factors (rope_freqs.weight) match no llama3 rope scaling (factor 4, 8, 16 or 32, low 1, high 4, 8192 positions); config.json cannot express them".into(),
        })
    }

    /// Number of query heads sharing one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama31() -> LlamaConfig {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/configs/llama-3.1-8b.json"
        );
        LlamaConfig::from_file(path).unwrap()
    }

    #[test]
    fn a_written_config_reads_back_the_same() {
        let c = llama31();
        let json = c.to_hf_config(candle_core::DType::BF16).unwrap();
        assert_eq!(json["torch_dtype"], "bfloat16");
        let back = LlamaConfig::from_json_str(&json.to_string(), "written").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn gguf_frequency_factors_become_the_llama3_scaling_they_match_or_an_error() {
        let c = llama31();
        let plain = LlamaConfig {
            rope_scaling: RopeScaling::None,
            ..c.clone()
        }
        .inverse_frequencies();
        let scaled = c.inverse_frequencies();
        // llama.cpp stores divisors: scaled = plain / factor.
        let factors: Vec<f32> = plain.iter().zip(&scaled).map(|(p, s)| p / s).collect();
        let from_gguf = LlamaConfig {
            rope_scaling: RopeScaling::FrequencyFactors(factors.clone()),
            ..c.clone()
        };
        let json = from_gguf.to_hf_config(candle_core::DType::F32).unwrap();
        assert_eq!(json["rope_scaling"]["rope_type"], "llama3");
        assert_eq!(json["rope_scaling"]["factor"], 8.0);
        let back = LlamaConfig::from_json_str(&json.to_string(), "written").unwrap();
        assert_eq!(back.rope_scaling, c.rope_scaling);

        let mut odd = factors;
        odd[0] *= 3.0;
        let odd = LlamaConfig {
            rope_scaling: RopeScaling::FrequencyFactors(odd),
            ..c
        };
        match odd.to_hf_config(candle_core::DType::F32) {
            Err(Error::Config { message, .. }) => {
                assert!(message.contains("cannot express"), "{message}")
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }
}
