//! Loading a model with its tokenizer and chat template: a local safetensors directory (single
//! or sharded), a Hugging Face hub repository, or a GGUF file dequantized on the CPU.

use crate::config::{LlamaConfig, RopeScaling};
use crate::model::{Kernels, Llama};
use crate::{ChatTemplate, Error, GgufMetadata, Result, TextTokenizer};
use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor, Var};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory with `config.json`, `model.safetensors` (or `model.safetensors.index.json`
    /// and its shards) and usually `tokenizer.json` and `tokenizer_config.json`.
    Directory(PathBuf),
    /// A GGUF file (architecture `llama`), dequantized when loaded.
    Gguf(PathBuf),
    /// A Hugging Face hub repository with the files of a [`ModelSource::Directory`].
    Hub {
        /// Repository id, e.g. `meta-llama/Llama-3.1-8B-Instruct`.
        repo: String,
        /// Branch, tag or commit (default `main`).
        revision: String,
    },
}

impl ModelSource {
    /// Reads a command-line model argument: an existing directory, a path ending in `.gguf`,
    /// or a hub id `owner/name[@revision]`.
    ///
    /// ```
    /// use indievalue_llm::ModelSource;
    /// assert_eq!(
    ///     ModelSource::parse("meta-llama/Llama-3.1-8B-Instruct@main"),
    ///     ModelSource::Hub { repo: "meta-llama/Llama-3.1-8B-Instruct".into(), revision: "main".into() }
    /// );
    /// assert!(matches!(ModelSource::parse("m.gguf"), ModelSource::Gguf(_)));
    /// ```
    pub fn parse(spec: &str) -> ModelSource {
        let path = Path::new(spec);
        if path.is_dir() {
            return ModelSource::Directory(path.to_owned());
        }
        if spec.to_ascii_lowercase().ends_with(".gguf") {
            return ModelSource::Gguf(path.to_owned());
        }
        let looks_like_hub = spec.split('/').count() == 2
            && !spec.starts_with('.')
            && !spec.starts_with('/')
            && !path.exists();
        if looks_like_hub {
            let (repo, revision) = match spec.split_once('@') {
                Some((r, v)) => (r, v),
                None => (spec, "main"),
            };
            return ModelSource::Hub {
                repo: repo.to_owned(),
                revision: revision.to_owned(),
            };
        }
        ModelSource::Directory(path.to_owned())
    }
}

/// How to reach the Hugging Face hub.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Hub cache directory (default: `HF_HOME/hub` or `~/.cache/huggingface/hub`).
    pub cache_dir: Option<PathBuf>,
    /// Access token (default: `HF_TOKEN`, else the token the `huggingface-cli login` stored).
    pub token: Option<String>,
    /// Only use files already in the cache (`HF_HUB_OFFLINE=1` sets it).
    pub offline: bool,
}

impl HubOptions {
    /// Options from the environment: `HF_TOKEN`, `HF_HUB_OFFLINE`; cache from `HF_HOME`.
    pub fn from_env() -> HubOptions {
        HubOptions {
            cache_dir: None,
            token: std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()),
            offline: std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v == "true"),
        }
    }
}

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// dtype of weights and activations (f32, bf16 or f16).
    pub dtype: DType,
    /// Where the model runs.
    pub device: Device,
    /// Fused (inference) or differentiable (training) kernels.
    pub kernels: Kernels,
    /// Hub access, for [`ModelSource::Hub`].
    pub hub: HubOptions,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            dtype: DType::F32,
            device: Device::Cpu,
            kernels: Kernels::Fused,
            hub: HubOptions::from_env(),
        }
    }
}

/// Reads a device name: `cpu`, `cuda` or `cuda:N` (CUDA needs this crate's `cuda` feature;
/// without it the error says so).
pub fn device_from_name(name: &str) -> Result<Device> {
    let cuda = |ordinal: usize| {
        Device::new_cuda(ordinal).map_err(|source| Error::Candle {
            context: format!("opening device {name}"),
            source,
        })
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => cuda(n),
            _ => Err(Error::Input(format!(
                "device {other:?} is not cpu, cuda or cuda:N"
            ))),
        },
    }
}

/// Reads `f32`, `bf16` or `f16`.
pub fn parse_dtype(name: &str) -> Result<DType> {
    match name {
        "f32" | "float32" => Ok(DType::F32),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        "f16" | "float16" => Ok(DType::F16),
        other => Err(Error::Input(format!(
            "dtype {other:?} is not supported (f32, bf16, f16)"
        ))),
    }
}

/// A model with what is needed to talk to it.
pub struct LoadedModel {
    /// The network.
    pub model: Llama,
    /// Its tokenizer, if the source has one (a bare weights directory may not).
    pub tokenizer: Option<TextTokenizer>,
    /// Its chat template; the Llama 3.1 header format when the source has none.
    pub chat_template: ChatTemplate,
    /// Whether `chat_template` is the model's own (false: the fallback).
    pub own_chat_template: bool,
    /// Token ids that end an answer (end-of-sequence, end-of-turn).
    pub stop_tokens: Vec<u32>,
    /// The files the model was read from.
    pub files: Vec<PathBuf>,
}

/// Loads a model, its tokenizer and its chat template: [`load_model_with`] with a hook that
/// keeps every tensor as it is.
pub fn load_model(source: &ModelSource, options: &LoadOptions) -> Result<LoadedModel> {
    load_model_with(source, options, |_, tensor| {
        Ok(HookedWeight::Tensor(tensor))
    })
}

/// What a [`load_model_with`] hook gives the model for one tensor.
///
/// Either way the tensor must keep the shape, dtype and device it was given with (else loading
/// fails with [`Error::TensorShape`] or [`Error::Input`]).
#[derive(Debug, Clone)]
pub enum HookedWeight {
    /// A plain tensor: the one the hook was given, or a replacement (a merged low-rank update,
    /// a perturbation).
    Tensor(Tensor),
    /// A variable. A model built with [`Kernels::Differentiable`] computes with this very
    /// tensor (same storage, same id): gradients of its outputs reach the variable, and
    /// [`Var::set`] shows in its next outputs. A model built with [`Kernels::Fused`] keeps
    /// fused, transposed *copies* of the projection weights (q/k/v/o, gate/up/down), which
    /// neither gradients nor updates of the variable reach.
    Var(Var),
}

impl HookedWeight {
    /// The tensor the model is built with (for a variable, its tensor, sharing its storage).
    pub fn into_tensor(self) -> Tensor {
        match self {
            HookedWeight::Tensor(t) => t,
            HookedWeight::Var(v) => v.into_inner(),
        }
    }
}

impl From<Tensor> for HookedWeight {
    fn from(t: Tensor) -> Self {
        HookedWeight::Tensor(t)
    }
}

impl From<Var> for HookedWeight {
    fn from(v: Var) -> Self {
        HookedWeight::Var(v)
    }
}

/// Loads a model as [`load_model`] does, passing every tensor through `hook` first; what the
/// hook returns is what the model is built with.
///
/// The hook is called once for every tensor of [`crate::weight_shapes`] (so not for
/// `lm_head.weight` of a model with tied embeddings: its output projection *is*
/// `model.embed_tokens.weight`, and what the hook returns for that serves as both), in that
/// order, under its Hugging Face name (`model.layers.0.self_attn.q_proj.weight`, ...), with the
/// tensor as the model would use it: converted to [`LoadOptions::dtype`] on
/// [`LoadOptions::device`], and for GGUF files dequantized and with the q/k rows un-permuted
/// back to the Hugging Face order. Fusion and transposition for [`Kernels::Fused`] come after
/// the hook. An error from the hook ends loading with that error.
///
/// This is how a trainer registers weights as variables (see [`HookedWeight::Var`]), adds a
/// low-rank delta or merges one, without loading files itself:
///
/// ```no_run
/// use indievalue_llm::{HookedWeight, Kernels, LoadOptions, ModelSource, load_model_with};
/// use indievalue_llm::candle_core::Var;
/// let options = LoadOptions { kernels: Kernels::Differentiable, ..LoadOptions::default() };
/// let mut vars = Vec::new();
/// let loaded = load_model_with(&ModelSource::parse("model.gguf"), &options, |name, tensor| {
///     if name.ends_with("q_proj.weight") {
///         let var = Var::from_tensor(&tensor).map_err(|source| indievalue_llm::Error::Candle {
///             context: name.to_owned(),
///             source,
///         })?;
///         vars.push(var.clone());
///         return Ok(HookedWeight::Var(var));
///     }
///     Ok(HookedWeight::Tensor(tensor))
/// })?;
/// # Ok::<(), indievalue_llm::Error>(())
/// ```
pub fn load_model_with<F>(
    source: &ModelSource,
    options: &LoadOptions,
    mut hook: F,
) -> Result<LoadedModel>
where
    F: FnMut(&str, Tensor) -> Result<HookedWeight>,
{
    let hook: &mut dyn FnMut(&str, Tensor) -> Result<HookedWeight> = &mut hook;
    if !matches!(options.dtype, DType::F32 | DType::BF16 | DType::F16) {
        return Err(Error::Input(format!(
            "dtype {:?} is not supported (f32, bf16, f16)",
            options.dtype
        )));
    }
    match source {
        ModelSource::Gguf(path) => load_gguf(path, options, hook),
        ModelSource::Directory(dir) => {
            let files = DirectoryFiles::local(dir)?;
            load_safetensors(files, options, hook)
        }
        ModelSource::Hub { repo, revision } => {
            let files = DirectoryFiles::hub(repo, revision, &options.hub)?;
            load_safetensors(files, options, hook)
        }
    }
}

/// The hyper-parameters of a model without loading its weights: from a directory's (or hub
/// repository's) `config.json`, a GGUF file's metadata and tensor list, or a `config.json` file
/// named directly (a [`ModelSource::Directory`] whose path is a file).
pub fn read_model_config(source: &ModelSource, hub: &HubOptions) -> Result<LlamaConfig> {
    match source {
        ModelSource::Directory(path) if path.is_file() => LlamaConfig::from_file(path),
        ModelSource::Directory(dir) => LlamaConfig::from_file(dir.join("config.json")),
        ModelSource::Hub { repo, revision } => {
            LlamaConfig::from_file(DirectoryFiles::hub(repo, revision, hub)?.config)
        }
        ModelSource::Gguf(path) => {
            let meta = GgufMetadata::read(path)?;
            let mut config = LlamaConfig::from_gguf(&meta, path)?;
            let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            let content = gguf_file::Content::read(&mut file).map_err(|e| Error::WeightFile {
                path: path.to_owned(),
                message: format!("not a readable GGUF file: {e}"),
            })?;
            config.tie_word_embeddings = !content.tensor_infos.contains_key("output.weight");
            Ok(config)
        }
    }
}

/// The files of a safetensors model.
struct DirectoryFiles {
    config: PathBuf,
    shards: Vec<PathBuf>,
    tokenizer: Option<PathBuf>,
    tokenizer_config: Option<PathBuf>,
}

fn shard_names(index: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(index).map_err(|source| Error::Io {
        path: index.to_owned(),
        source,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::ModelFiles {
        path: index.to_owned(),
        message: format!("not JSON: {e}"),
    })?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::ModelFiles {
            path: index.to_owned(),
            message: "no weight_map object".into(),
        })?;
    let mut names = BTreeSet::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| Error::ModelFiles {
            path: index.to_owned(),
            message: format!("weight_map[{tensor:?}] is not a file name"),
        })?;
        if file.contains("..") || file.starts_with('/') {
            return Err(Error::ModelFiles {
                path: index.to_owned(),
                message: format!("shard name {file:?} leaves the directory"),
            });
        }
        names.insert(file.to_owned());
    }
    Ok(names.into_iter().collect())
}

impl DirectoryFiles {
    fn local(dir: &Path) -> Result<DirectoryFiles> {
        if !dir.is_dir() {
            return Err(Error::ModelFiles {
                path: dir.to_owned(),
                message: "not a directory (nor a .gguf file or a hub id owner/name)".into(),
            });
        }
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(Error::ModelFiles {
                path: dir.to_owned(),
                message: "no config.json".into(),
            });
        }
        // A bad config is the more useful error when the weights are missing too.
        LlamaConfig::from_file(&config)?;
        let index = dir.join("model.safetensors.index.json");
        let shards = if index.is_file() {
            shard_names(&index)?
                .into_iter()
                .map(|n| dir.join(n))
                .collect()
        } else if dir.join("model.safetensors").is_file() {
            vec![dir.join("model.safetensors")]
        } else {
            return Err(Error::ModelFiles {
                path: dir.to_owned(),
                message: "neither model.safetensors nor model.safetensors.index.json".into(),
            });
        };
        let optional = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Ok(DirectoryFiles {
            config,
            shards,
            tokenizer: optional("tokenizer.json"),
            tokenizer_config: optional("tokenizer_config.json"),
        })
    }

    fn hub(repo: &str, revision: &str, options: &HubOptions) -> Result<DirectoryFiles> {
        use hf_hub::{Cache, Repo, RepoType};
        let cache = match &options.cache_dir {
            Some(dir) => Cache::new(dir.clone()),
            None => Cache::from_env(),
        };
        let hub_repo = Repo::with_revision(repo.to_owned(), RepoType::Model, revision.to_owned());
        let cached = cache.repo(hub_repo.clone());
        let hub_err = |file: &str, message: String| Error::Hub {
            repo: repo.to_owned(),
            revision: revision.to_owned(),
            file: file.to_owned(),
            message,
        };
        let api = if options.offline {
            None
        } else {
            let token = options.token.clone().or_else(|| cache.token());
            let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
                .with_progress(false)
                .with_token(token)
                .build()
                .map_err(|e| hub_err("(api)", e.to_string()))?;
            Some(api.repo(hub_repo))
        };
        // A file from the cache, else downloaded; Ok(None) when the hub says it does not exist.
        let fetch = |file: &str, required: bool| -> Result<Option<PathBuf>> {
            if let Some(p) = cached.get(file) {
                return Ok(Some(p));
            }
            match &api {
                None if required => Err(hub_err(file, "not in the hub cache (offline)".into())),
                None => Ok(None),
                Some(api) => match api.get(file) {
                    Ok(p) => Ok(Some(p)),
                    Err(e) if !required => {
                        let text = e.to_string();
                        if text.contains("404") {
                            Ok(None)
                        } else {
                            Err(hub_err(file, text))
                        }
                    }
                    Err(e) => Err(hub_err(file, e.to_string())),
                },
            }
        };
        let config =
            fetch("config.json", true)?.ok_or_else(|| hub_err("config.json", "missing".into()))?;
        let shards = match fetch("model.safetensors.index.json", false)? {
            Some(index) => {
                let mut shards = Vec::new();
                for name in shard_names(&index)? {
                    shards
                        .push(fetch(&name, true)?.ok_or_else(|| hub_err(&name, "missing".into()))?);
                }
                shards
            }
            None => vec![
                fetch("model.safetensors", true)?
                    .ok_or_else(|| hub_err("model.safetensors", "missing".into()))?,
            ],
        };
        Ok(DirectoryFiles {
            config,
            shards,
            tokenizer: fetch("tokenizer.json", false)?,
            tokenizer_config: fetch("tokenizer_config.json", false)?,
        })
    }
}

/// Reads a safetensors file's header and data by memory map.
fn open_safetensors(path: &Path) -> Result<candle_core::safetensors::MmapedSafetensors> {
    if !path.is_file() {
        return Err(Error::ModelFiles {
            path: path.to_owned(),
            message: "weight file not found".into(),
        });
    }
    // SAFETY: the file is mapped read-only and only read while the map lives; like every
    // memory-mapped loader, this assumes nobody truncates the file meanwhile.
    #[allow(unsafe_code)]
    let st = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) };
    st.map_err(|e| Error::WeightFile {
        path: path.to_owned(),
        message: format!("not a valid safetensors file: {e}"),
    })
}

/// The hook of [`load_model_with`].
type Hook<'a> = &'a mut dyn FnMut(&str, Tensor) -> Result<HookedWeight>;

fn load_safetensors(
    files: DirectoryFiles,
    options: &LoadOptions,
    hook: Hook<'_>,
) -> Result<LoadedModel> {
    let config = LlamaConfig::from_file(&files.config)?;
    let mut shards = Vec::new();
    let mut location: HashMap<String, usize> = HashMap::new();
    for (i, path) in files.shards.iter().enumerate() {
        let st = open_safetensors(path)?;
        for (name, _) in st.tensors() {
            location.insert(name, i);
        }
        shards.push(st);
    }
    let origin = if files.shards.len() == 1 {
        files.shards[0].display().to_string()
    } else {
        format!(
            "{} safetensors shards in {}",
            files.shards.len(),
            files.shards[0].parent().unwrap_or(Path::new(".")).display()
        )
    };
    let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let Some(&i) = location.get(name) else {
            return Err(Error::MissingTensor {
                name: name.to_owned(),
                origin: origin.clone(),
            });
        };
        let path = &files.shards[i];
        let view = shards[i].get(name).map_err(|e| Error::WeightFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        use safetensors::Dtype;
        if !matches!(view.dtype(), Dtype::F32 | Dtype::BF16 | Dtype::F16) {
            return Err(Error::UnsupportedDtype {
                name: name.to_owned(),
                origin: path.display().to_string(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != shape {
            return Err(Error::TensorShape {
                name: name.to_owned(),
                origin: path.display().to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let candle_err = |e: candle_core::Error| Error::WeightFile {
            path: path.clone(),
            message: format!("tensor {name}: {e}"),
        };
        let t = shards[i]
            .load(name, &options.device)
            .and_then(|t| t.to_dtype(options.dtype))
            .map_err(candle_err)?;
        hook(name, t).map(HookedWeight::into_tensor)
    };
    let model = Llama::from_weights(
        config.clone(),
        options.dtype,
        &options.device,
        options.kernels,
        &mut get,
    )?;
    let tokenizer = match &files.tokenizer {
        Some(p) => Some(TextTokenizer::from_file(p)?),
        None => None,
    };
    let special = match &files.tokenizer_config {
        Some(p) => TokenizerConfig::read(p)?,
        None => TokenizerConfig::default(),
    };
    let (chat_template, own) = match &special.chat_template {
        Some(t) => (
            ChatTemplate::new(
                t,
                special.bos.clone().unwrap_or_default(),
                special.eos.clone().unwrap_or_default(),
            )?,
            true,
        ),
        None => (ChatTemplate::llama3_fallback(), false),
    };
    let mut stop = config_eos_ids(&files.config)?;
    if let (Some(tok), Some(eos)) = (&tokenizer, &special.eos)
        && let Some(id) = tok.token_id(eos)
    {
        stop.push(id);
    }
    if let Some(tok) = &tokenizer {
        add_end_of_turn_tokens(tok, &mut stop);
    }
    stop.sort_unstable();
    stop.dedup();
    let mut used = vec![files.config.clone()];
    used.extend(files.shards.iter().cloned());
    used.extend(files.tokenizer.iter().cloned());
    used.extend(files.tokenizer_config.iter().cloned());
    Ok(LoadedModel {
        model,
        tokenizer,
        chat_template,
        own_chat_template: own,
        stop_tokens: stop,
        files: used,
    })
}

fn add_end_of_turn_tokens(tok: &TextTokenizer, stop: &mut Vec<u32>) {
    for t in [
        "<|eot_id|>",
        "<|end_of_text|>",
        "<|im_end|>",
        "<|endoftext|>",
    ] {
        if let Some(id) = tok.token_id(t) {
            stop.push(id);
        }
    }
}

fn config_eos_ids(path: &Path) -> Result<Vec<u32>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Config {
        origin: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(match json.get("eos_token_id") {
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().map(|v| vec![v as u32]).unwrap_or_default()
        }
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_u64().map(|v| v as u32))
            .collect(),
        _ => Vec::new(),
    })
}

/// The chat template a `tokenizer_config.json` names (with its BOS and EOS tokens), to render
/// prompts for a model served elsewhere exactly as its server does; an error naming the file
/// when it has none.
pub fn chat_template_from_config(path: &Path) -> Result<ChatTemplate> {
    let config = TokenizerConfig::read(path)?;
    let Some(template) = config.chat_template else {
        return Err(Error::ModelFiles {
            path: path.to_owned(),
            message: "no chat_template".into(),
        });
    };
    ChatTemplate::new(
        &template,
        config.bos.unwrap_or_default(),
        config.eos.unwrap_or_default(),
    )
}

/// What `tokenizer_config.json` says about special tokens and the chat template.
#[derive(Default)]
struct TokenizerConfig {
    bos: Option<String>,
    eos: Option<String>,
    chat_template: Option<String>,
}

impl TokenizerConfig {
    fn read(path: &Path) -> Result<TokenizerConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::ModelFiles {
                path: path.to_owned(),
                message: format!("not JSON: {e}"),
            })?;
        let token = |key: &str| -> Option<String> {
            match json.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => {
                    o.get("content").and_then(|c| c.as_str()).map(str::to_owned)
                }
                _ => None,
            }
        };
        let chat_template = match json.get("chat_template") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // A list of named templates: the one named "default".
            Some(serde_json::Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                .and_then(|t| t.get("template"))
                .and_then(|t| t.as_str())
                .map(str::to_owned),
            _ => None,
        };
        Ok(TokenizerConfig {
            bos: token("bos_token"),
            eos: token("eos_token"),
            chat_template,
        })
    }
}

/// The GGUF tensor holding a Hugging Face tensor, and the heads to un-permute by.
fn gguf_name(hf: &str, config: &LlamaConfig) -> Option<(String, Option<usize>)> {
    match hf {
        "model.embed_tokens.weight" => return Some(("token_embd.weight".into(), None)),
        "model.norm.weight" => return Some(("output_norm.weight".into(), None)),
        "lm_head.weight" => return Some(("output.weight".into(), None)),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, name) = rest.split_once('.')?;
    let (gguf, heads) = match name {
        "input_layernorm.weight" => ("attn_norm", None),
        "self_attn.q_proj.weight" => ("attn_q", Some(config.num_attention_heads)),
        "self_attn.k_proj.weight" => ("attn_k", Some(config.num_key_value_heads)),
        "self_attn.v_proj.weight" => ("attn_v", None),
        "self_attn.o_proj.weight" => ("attn_output", None),
        "post_attention_layernorm.weight" => ("ffn_norm", None),
        "mlp.gate_proj.weight" => ("ffn_gate", None),
        "mlp.up_proj.weight" => ("ffn_up", None),
        "mlp.down_proj.weight" => ("ffn_down", None),
        _ => return None,
    };
    Some((format!("blk.{layer}.{gguf}.weight"), heads))
}

/// Undoes llama.cpp's reordering of q/k projection rows (its converter interleaves the two
/// halves of every head so that it can rotate adjacent pairs): rows `[heads, d/2, 2]` back to
/// `[heads, 2, d/2]`.
pub(crate) fn unpermute_heads(w: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let d = rows / heads;
    w.reshape((heads, d / 2, 2, cols))?
        .transpose(1, 2)?
        .reshape((rows, cols))
}

fn load_gguf(path: &Path, options: &LoadOptions, hook: Hook<'_>) -> Result<LoadedModel> {
    let meta = GgufMetadata::read(path)?;
    let mut config = LlamaConfig::from_gguf(&meta, path)?;
    let gguf_err = |message: String| Error::WeightFile {
        path: path.to_owned(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let file_len = file
        .metadata()
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let content = gguf_file::Content::read(&mut file)
        .map_err(|e| gguf_err(format!("not a readable GGUF file: {e}")))?;
    for (name, info) in &content.tensor_infos {
        let elems = info.shape.elem_count();
        let block = info.ggml_dtype.block_size();
        let bytes = (elems / block) as u64 * info.ggml_dtype.type_size() as u64;
        let end = content.tensor_data_offset + info.offset + bytes;
        if end > file_len {
            return Err(gguf_err(format!(
                "truncated: tensor {name} ends at byte {end}, the file has {file_len}"
            )));
        }
    }
    config.tie_word_embeddings = !content.tensor_infos.contains_key("output.weight");
    if content.tensor_infos.contains_key("rope_freqs.weight") {
        let factors = content
            .tensor(&mut file, "rope_freqs.weight", &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| gguf_err(format!("tensor rope_freqs.weight: {e}")))?;
        config.rope_scaling = RopeScaling::FrequencyFactors(factors);
        config.validate().map_err(|message| Error::Config {
            origin: path.display().to_string(),
            message,
        })?;
    }
    let origin = path.display().to_string();
    let cfg = config.clone();
    let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let Some((gguf, heads)) = gguf_name(name, &cfg) else {
            return Err(Error::MissingTensor {
                name: name.to_owned(),
                origin: origin.clone(),
            });
        };
        let Some(info) = content.tensor_infos.get(&gguf) else {
            return Err(Error::MissingTensor {
                name: name.to_owned(),
                origin: format!("{origin} (GGUF tensor {gguf})"),
            });
        };
        if info.shape.dims() != shape {
            return Err(Error::TensorShape {
                name: gguf,
                origin: origin.clone(),
                expected: shape.to_vec(),
                found: info.shape.dims().to_vec(),
            });
        }
        let mut load = || -> candle_core::Result<Tensor> {
            let t = content
                .tensor(&mut file, &gguf, &Device::Cpu)?
                .dequantize(&Device::Cpu)?;
            let t = match heads {
                Some(h) => unpermute_heads(&t, h)?,
                None => t,
            };
            t.to_dtype(options.dtype)?.to_device(&options.device)
        };
        let t = load().map_err(|e| gguf_err(format!("tensor {gguf}: {e}")))?;
        hook(name, t).map(HookedWeight::into_tensor)
    };
    let model = Llama::from_weights(
        config,
        options.dtype,
        &options.device,
        options.kernels,
        &mut get,
    )?;
    let tokenizer = TextTokenizer::from_gguf(&meta, path)?;
    let token_text = |key: &str| -> Option<String> {
        let id = meta.get_u64(key)?;
        let tokens = meta.get("tokenizer.ggml.tokens")?.as_array()?;
        tokens.get(id as usize)?.as_str().map(str::to_owned)
    };
    let bos = token_text("tokenizer.ggml.bos_token_id");
    let eos = token_text("tokenizer.ggml.eos_token_id");
    let (chat_template, own) = match meta.chat_template() {
        Some(t) => (
            ChatTemplate::new(
                t,
                bos.clone().unwrap_or_default(),
                eos.clone().unwrap_or_default(),
            )?,
            true,
        ),
        None => (ChatTemplate::llama3_fallback(), false),
    };
    let mut stop: Vec<u32> = meta
        .get_u64("tokenizer.ggml.eos_token_id")
        .map(|v| vec![v as u32])
        .unwrap_or_default();
    add_end_of_turn_tokens(&tokenizer, &mut stop);
    stop.sort_unstable();
    stop.dedup();
    Ok(LoadedModel {
        model,
        tokenizer: Some(tokenizer),
        chat_template,
        own_chat_template: own,
        stop_tokens: stop,
        files: vec![path.to_owned()],
    })
}
