//! LoRA with PEFT's semantics and file layout: `y = W x + scale · B A dropout(x)`, `scale =
//! alpha / r` (rsLoRA: `alpha / sqrt(r)`), `A` `[r, in]` kaiming-uniform with bound
//! `1 / sqrt(in)`, `B` `[out, r]` zeros; saved as `adapter_config.json` +
//! `adapter_model.safetensors` with keys such as
//! `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` (no adapter name in a key).

use crate::{Error, Result};
use candle_core::{DType, Tensor, Var};
use indievalue_llm::{Llama, LowRank, Projection};
use indievalue_rng::{Rng, label};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name of an adapter's configuration.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// File name of an adapter's weights.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// What a LoRA adapter is: rank, alpha, dropout, target modules, rsLoRA.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank r.
    pub r: usize,
    /// Alpha.
    pub alpha: f64,
    /// Dropout on the branch's input while training.
    pub dropout: f64,
    /// The projections adapted, in every layer.
    pub targets: Vec<Projection>,
    /// Scale by `alpha / sqrt(r)` instead of `alpha / r`.
    pub use_rslora: bool,
}

impl Default for LoraConfig {
    /// r 16, alpha 32, dropout 0, all seven projections, plain scaling.
    fn default() -> Self {
        LoraConfig {
            r: 16,
            alpha: 32.0,
            dropout: 0.0,
            targets: Projection::ALL.to_vec(),
            use_rslora: false,
        }
    }
}

impl LoraConfig {
    /// The factor on the branch.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.alpha / (self.r as f64).sqrt()
        } else {
            self.alpha / self.r as f64
        }
    }

    /// Parses `q_proj,k_proj,...` into projections (an unknown name is an error).
    pub fn parse_targets(list: &str) -> Result<Vec<Projection>> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let p = Projection::from_name(name).ok_or_else(|| Error::Adapter {
                what: "target modules".into(),
                message: format!(
                    "unknown module {name:?} (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
                ),
            })?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// `adapter_config.json` as PEFT writes and reads it (unknown keys accepted on reading).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PeftConfig {
    peft_type: String,
    #[serde(default)]
    task_type: Option<String>,
    #[serde(default = "default_r")]
    r: usize,
    #[serde(default = "default_r_f64")]
    lora_alpha: f64,
    #[serde(default)]
    target_modules: Option<serde_json::Value>,
    #[serde(default)]
    lora_dropout: f64,
    #[serde(default)]
    use_rslora: bool,
    #[serde(default = "default_bias")]
    bias: String,
    #[serde(default)]
    base_model_name_or_path: Option<String>,
    #[serde(default)]
    fan_in_fan_out: bool,
    #[serde(default)]
    use_dora: bool,
    #[serde(default)]
    inference_mode: bool,
}

fn default_r() -> usize {
    8
}
fn default_r_f64() -> f64 {
    8.0
}
fn default_bias() -> String {
    "none".into()
}

/// A LoRA adapter on a model: per (layer, projection) the variables `A` and `B`.
#[derive(Debug)]
pub struct LoraAdapter {
    /// The configuration.
    pub config: LoraConfig,
    /// `(layer, projection) -> (A, B)`, f32 variables.
    pub weights: BTreeMap<(usize, Projection), (Var, Var)>,
}

/// PEFT's key of one factor.
pub fn peft_key(layer: usize, projection: Projection, factor: char) -> String {
    format!(
        "base_model.model.model.layers.{layer}.{}.lora_{factor}.weight",
        projection.path()
    )
}

fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> Error {
    move |source| Error::Tensor { context, source }
}

impl LoraAdapter {
    /// A fresh adapter for `model`: `A` uniform in `±1/sqrt(in)` (PEFT's kaiming-uniform with
    /// `a = sqrt(5)`), drawn from the seeded stream of (seed, layer, projection); `B` zeros.
    pub fn new(model: &Llama, config: LoraConfig, seed: u64) -> Result<LoraAdapter> {
        let mut weights = BTreeMap::new();
        for layer in 0..model.config().num_hidden_layers {
            for &p in &config.targets {
                let w = model.projection_weight(layer, p)?;
                let (out, inp) = w.dims2().map_err(candle("projection shape"))?;
                let bound = 1.0 / (inp as f64).sqrt();
                let mut rng = Rng::derive(seed, &[label("lora-A"), layer as u64, p as u64]);
                let a: Vec<f32> = (0..config.r * inp)
                    .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                let a = Tensor::from_vec(a, (config.r, inp), model.device())
                    .map_err(candle("lora A"))?;
                let b = Tensor::zeros((out, config.r), DType::F32, model.device())
                    .map_err(candle("lora B"))?;
                weights.insert(
                    (layer, p),
                    (
                        Var::from_tensor(&a).map_err(candle("lora A"))?,
                        Var::from_tensor(&b).map_err(candle("lora B"))?,
                    ),
                );
            }
        }
        Ok(LoraAdapter { config, weights })
    }

    /// Puts the branches on `model` (replacing any it has).
    pub fn attach(&self, model: &mut Llama) -> Result<()> {
        for (&(layer, p), (a, b)) in &self.weights {
            let branch = LowRank {
                a: a.as_tensor().clone(),
                b: b.as_tensor().clone(),
                scale: self.config.scale(),
                dropout: self.config.dropout,
            };
            model.set_low_rank(layer, p, Some(branch))?;
        }
        Ok(())
    }

    /// The trainable variables with their PEFT names, `A` before `B`, in layer order.
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::with_capacity(self.weights.len() * 2);
        for (&(layer, p), (a, b)) in &self.weights {
            out.push((peft_key(layer, p, 'A'), a.clone()));
            out.push((peft_key(layer, p, 'B'), b.clone()));
        }
        out
    }

    /// Writes the adapter as PEFT's `save_pretrained` does: `adapter_config.json` (every value
    /// explicit) and `adapter_model.safetensors` (f32, keys without an adapter name), each
    /// atomically.
    pub fn save(&self, dir: &Path, base_model: &str) -> Result<()> {
        indievalue_files::create_dir_all(dir)?;
        let c = &self.config;
        let mut names: Vec<&str> = c.targets.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        let config = serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": c.r,
            "lora_alpha": c.alpha,
            "target_modules": names,
            "lora_dropout": c.dropout,
            "use_rslora": c.use_rslora,
            "bias": "none",
            "base_model_name_or_path": base_model,
            "fan_in_fan_out": false,
            "use_dora": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "modules_to_save": null,
            "layers_to_transform": null,
            "layers_pattern": null,
            "rank_pattern": {},
            "alpha_pattern": {},
            "revision": null,
        });
        indievalue_files::write_json_atomic(&dir.join(ADAPTER_CONFIG_FILE), &config)?;
        let tensors: Vec<(String, Tensor)> = self
            .named_vars()
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        crate::tensors::write_safetensors(&dir.join(ADAPTER_WEIGHTS_FILE), &tensors, Some("pt"))
    }

    /// Reads an adapter saved by PEFT (or by [`LoraAdapter::save`]) for `model`, as trainable
    /// f32 variables. Shapes and target modules must fit the model; a key with an adapter name
    /// (`.default`) or one that is not a LoRA factor is an error naming it.
    pub fn load(dir: &Path, model: &Llama) -> Result<LoraAdapter> {
        let config = read_config(dir)?;
        let weights_path = dir.join(ADAPTER_WEIGHTS_FILE);
        let mut tensors = crate::tensors::read_safetensors(&weights_path, model.device())?;
        let mut weights = BTreeMap::new();
        for layer in 0..model.config().num_hidden_layers {
            for &p in &config.targets {
                let w = model.projection_weight(layer, p)?;
                let (out, inp) = w.dims2().map_err(candle("projection shape"))?;
                let mut take = |factor: char, shape: (usize, usize)| -> Result<Var> {
                    let key = peft_key(layer, p, factor);
                    let t = tensors.remove(&key).ok_or_else(|| Error::Adapter {
                        what: weights_path.display().to_string(),
                        message: format!("tensor {key} is missing"),
                    })?;
                    if t.dims() != [shape.0, shape.1] {
                        return Err(Error::Adapter {
                            what: weights_path.display().to_string(),
                            message: format!(
                                "tensor {key} has shape {:?}, the model needs {:?}",
                                t.dims(),
                                [shape.0, shape.1]
                            ),
                        });
                    }
                    let t = t.to_dtype(DType::F32).map_err(candle("adapter dtype"))?;
                    Var::from_tensor(&t).map_err(candle("adapter variable"))
                };
                let a = take('A', (config.r, inp))?;
                let b = take('B', (out, config.r))?;
                weights.insert((layer, p), (a, b));
            }
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(Error::Adapter {
                what: weights_path.display().to_string(),
                message: format!(
                    "tensor {extra} does not belong to the configured LoRA modules (a key with an adapter name such as .default, or a module not in target_modules)"
                ),
            });
        }
        Ok(LoraAdapter { config, weights })
    }
}

/// Reads and checks an adapter's `adapter_config.json` (PEFT's defaults for absent keys;
/// unknown keys accepted).
pub fn read_config(dir: &Path) -> Result<LoraConfig> {
    let config_path = dir.join(ADAPTER_CONFIG_FILE);
    let raw: PeftConfig = indievalue_files::read_json(&config_path)?;
    let what = config_path.display().to_string();
    let bad = |message: String| Error::Adapter {
        what: what.clone(),
        message,
    };
    if raw.peft_type != "LORA" {
        return Err(bad(format!(
            "peft_type {:?}, only LORA is supported",
            raw.peft_type
        )));
    }
    if raw.use_dora || raw.fan_in_fan_out || raw.bias != "none" {
        return Err(bad(
            "DoRA, fan_in_fan_out and LoRA biases are not supported".into(),
        ));
    }
    let targets = match &raw.target_modules {
        None => vec![Projection::Q, Projection::V],
        Some(serde_json::Value::Array(list)) => {
            let names: Vec<String> = list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("target_modules must be names".into()))
                })
                .collect::<Result<_>>()?;
            LoraConfig::parse_targets(&names.join(",")).map_err(|e| bad(e.to_string()))?
        }
        Some(other) => {
            return Err(bad(format!(
                "target_modules {other} is not a list of names"
            )));
        }
    };
    Ok(LoraConfig {
        r: raw.r,
        alpha: raw.lora_alpha,
        dropout: raw.lora_dropout,
        targets,
        use_rslora: raw.use_rslora,
    })
}

/// A PEFT adapter merged into base weights as they load: `W + scale · B A` for every adapted
/// projection (in f32, then in the weight's dtype), every other weight as it is.
pub struct AdapterMerge {
    config: LoraConfig,
    tensors: std::collections::HashMap<String, Tensor>,
    what: String,
    merged: usize,
}

impl AdapterMerge {
    /// Reads the adapter in `dir` (`adapter_config.json`, `adapter_model.safetensors`).
    pub fn read(dir: &Path, device: &indievalue_llm::Device) -> Result<AdapterMerge> {
        let config = read_config(dir)?;
        let weights_path = dir.join(ADAPTER_WEIGHTS_FILE);
        let tensors = crate::tensors::read_safetensors(&weights_path, device)?;
        Ok(AdapterMerge {
            config,
            tensors: tensors.into_iter().collect(),
            what: weights_path.display().to_string(),
            merged: 0,
        })
    }

    /// The weight `w` of Hugging Face name `name`, with the adapter's delta added if it adapts
    /// it (for a loading hook).
    pub fn apply(&mut self, name: &str, w: Tensor) -> indievalue_llm::Result<Tensor> {
        let target = self.config.targets.iter().find_map(|&p| {
            let rest = name.strip_prefix("model.layers.")?;
            let (layer, tail) = rest.split_once('.')?;
            (tail == format!("{}.weight", p.path())).then(|| (layer.parse::<usize>().ok(), p))
        });
        let Some((Some(layer), p)) = target else {
            return Ok(w);
        };
        let what = &self.what;
        let fail = |message: String| indievalue_llm::Error::Input(format!("{what}: {message}"));
        let (a, b) = (peft_key(layer, p, 'A'), peft_key(layer, p, 'B'));
        let (Some(a), Some(b)) = (self.tensors.remove(&a), self.tensors.remove(&b)) else {
            return Err(fail(format!("no lora_A/lora_B for {name}")));
        };
        let branch = LowRank {
            a,
            b,
            scale: self.config.scale(),
            dropout: 0.0,
        };
        let delta = branch.delta().map_err(|e| fail(e.to_string()))?;
        let sum = w
            .to_dtype(DType::F32)
            .and_then(|w32| w32 + delta.to_dtype(DType::F32)?)
            .and_then(|t| t.to_dtype(w.dtype()))
            .map_err(|e| fail(format!("{name}: {e}")))?;
        self.merged += 1;
        Ok(sum)
    }

    /// Checks that every tensor of the adapter was used and some weight was adapted; the number
    /// of weights merged.
    pub fn finish(self) -> Result<usize> {
        if let Some(extra) = self.tensors.keys().next() {
            return Err(Error::Adapter {
                what: self.what,
                message: format!("tensor {extra} does not belong to the configured LoRA modules"),
            });
        }
        if self.merged == 0 {
            return Err(Error::Adapter {
                what: self.what,
                message: "no weight of the model was adapted".into(),
            });
        }
        Ok(self.merged)
    }
}

/// Loads a model for inference with a PEFT adapter merged into its weights (`W + scale · B A`,
/// through the loading hook, so the model keeps its fast fused layout).
pub fn load_with_adapter(
    source: &indievalue_llm::ModelSource,
    options: &indievalue_llm::LoadOptions,
    dir: &Path,
) -> Result<indievalue_llm::LoadedModel> {
    let mut merge = AdapterMerge::read(dir, &options.device)?;
    let loaded = indievalue_llm::load_model_with(source, options, |name, w| {
        merge
            .apply(name, w)
            .map(indievalue_llm::HookedWeight::Tensor)
    })?;
    merge.finish()?;
    Ok(loaded)
}

/// LoRA settings given on a command line: each `None` takes the default, or the starting
/// adapter's value.
#[derive(Debug, Clone, Default)]
pub struct LoraOverrides {
    /// Rank.
    pub r: Option<usize>,
    /// Alpha (default twice the rank).
    pub alpha: Option<f64>,
    /// Dropout (default 0).
    pub dropout: Option<f64>,
    /// Target modules (default all seven).
    pub targets: Option<Vec<Projection>>,
    /// rsLoRA.
    pub use_rslora: bool,
}

impl LoraAdapter {
    /// The adapter a run starts from: the one in `init` (taking its r, alpha, targets and
    /// rsLoRA; an override that conflicts with them is an error), or a fresh one from the
    /// overrides and defaults (r 16, alpha 2r, dropout 0, all seven modules).
    pub fn start(
        model: &Llama,
        init: Option<&Path>,
        o: &LoraOverrides,
        seed: u64,
    ) -> Result<LoraAdapter> {
        let Some(dir) = init else {
            let r = o.r.unwrap_or(16);
            let config = LoraConfig {
                r,
                alpha: o.alpha.unwrap_or(2.0 * r as f64),
                dropout: o.dropout.unwrap_or(0.0),
                targets: o
                    .targets
                    .clone()
                    .unwrap_or_else(|| Projection::ALL.to_vec()),
                use_rslora: o.use_rslora,
            };
            return LoraAdapter::new(model, config, seed);
        };
        let mut adapter = LoraAdapter::load(dir, model)?;
        let c = &adapter.config;
        let conflict = o.r.is_some_and(|r| r != c.r)
            || o.alpha.is_some_and(|a| a != c.alpha)
            || o.targets.as_ref().is_some_and(|t| *t != c.targets)
            || (o.use_rslora && !c.use_rslora);
        if conflict {
            return Err(Error::Adapter {
                what: dir.display().to_string(),
                message: format!(
                    "the starting adapter sets r {}, alpha {}, its target modules and rsLoRA {}; a flag asks otherwise",
                    c.r, c.alpha, c.use_rslora
                ),
            });
        }
        if let Some(p) = o.dropout {
            adapter.config.dropout = p;
        }
        Ok(adapter)
    }
}
