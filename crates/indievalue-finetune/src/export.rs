//! A model directory anyone can load: weights (a base with a PEFT adapter merged in, or fully
//! fine-tuned ones) written as a Hugging Face model directory: `model.safetensors` (sharded
//! with `model.safetensors.index.json` past [`MAX_SHARD_BYTES`]), `config.json` and the
//! tokenizer's files. From a safetensors base (directory or hub) `config.json` and the
//! tokenizer files are the base's (the dtype updated); from a GGUF base they are written from
//! its metadata: `config.json` from the hyper-parameters, `tokenizer.json` from its
//! vocabulary and merges, `tokenizer_config.json` with its special tokens and chat template.

use crate::lora::AdapterMerge;
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use indievalue_llm::{
    GgufMetadata, HookedWeight, Kernels, LoadOptions, LoadedModel, ModelSource, load_model_with,
};
use std::path::{Path, PathBuf};

/// The largest shard transformers writes by default (`max_shard_size="5GB"`).
pub const MAX_SHARD_BYTES: u64 = 5_000_000_000;

/// Files the tokenizer and generation settings of a safetensors model live in.
const TOKENIZER_FILES: [&str; 4] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
];

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// Every file written, in the output directory.
    pub files: Vec<PathBuf>,
    /// Weights with an adapter's delta merged in.
    pub merged: usize,
    /// Tensors written.
    pub tensors: usize,
    /// Bytes of weights written.
    pub weight_bytes: u64,
}

/// `config.json` and the tokenizer's files for a model directory, by file name.
#[derive(Debug, Clone)]
pub struct ConfigAndTokenizer {
    /// The `config.json` object.
    pub config: serde_json::Value,
    /// Other files: name and contents.
    pub others: Vec<(String, Vec<u8>)>,
}

fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        _ => "float32",
    }
}

/// `config.json` and tokenizer files for `loaded` (read from `source`), its weights stored in
/// `dtype`.
pub fn config_and_tokenizer(
    source: &ModelSource,
    loaded: &LoadedModel,
    dtype: DType,
) -> Result<ConfigAndTokenizer> {
    match source {
        ModelSource::Gguf(path) => gguf_files(path, loaded, dtype),
        _ => {
            let config_path = loaded
                .files
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == "config.json"))
                .ok_or_else(|| Error::Config("the loaded model has no config.json".into()))?;
            let mut config: serde_json::Value = indievalue_files::read_json(config_path)?;
            if let Some(obj) = config.as_object_mut() {
                obj.insert("torch_dtype".into(), dtype_name(dtype).into());
                if obj.contains_key("dtype") {
                    obj.insert("dtype".into(), dtype_name(dtype).into());
                }
            }
            let dir = config_path.parent().unwrap_or(Path::new("."));
            let mut others = Vec::new();
            for name in TOKENIZER_FILES {
                let path = dir.join(name);
                if path.is_file() {
                    let bytes = std::fs::read(&path).map_err(|source| {
                        Error::Files(indievalue_files::Error::Io { path, source })
                    })?;
                    others.push((name.to_owned(), bytes));
                }
            }
            Ok(ConfigAndTokenizer { config, others })
        }
    }
}

fn gguf_files(path: &Path, loaded: &LoadedModel, dtype: DType) -> Result<ConfigAndTokenizer> {
    let meta = GgufMetadata::read(path)?;
    let mut config = loaded.model.config().to_hf_config(dtype)?;
    let what = path.display().to_string();
    let tokenizer = loaded.tokenizer.as_ref().ok_or_else(|| Error::Adapter {
        what: what.clone(),
        message: "the GGUF file has no tokenizer, so no tokenizer.json can be written".into(),
    })?;
    let token = |key: &str| -> Option<(u64, String)> {
        let id = meta.get_u64(key)?;
        Some((id, tokenizer.token_text(id as u32)?))
    };
    let bos = token("tokenizer.ggml.bos_token_id");
    let eos = token("tokenizer.ggml.eos_token_id");
    let pad = token("tokenizer.ggml.padding_token_id");
    if let Some(obj) = config.as_object_mut() {
        obj.insert("bos_token_id".into(), bos.as_ref().map(|b| b.0).into());
        obj.insert("eos_token_id".into(), eos.as_ref().map(|e| e.0).into());
    }
    let mut tokenizer_config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": false,
        "model_max_length": loaded.model.config().max_position_embeddings,
        "bos_token": bos.as_ref().map(|b| b.1.clone()),
        "eos_token": eos.as_ref().map(|e| e.1.clone()),
        "pad_token": pad.as_ref().map(|p| p.1.clone()),
    });
    if let (Some(obj), Some(template)) = (tokenizer_config.as_object_mut(), meta.chat_template()) {
        obj.insert("chat_template".into(), template.into());
    }
    let generation = serde_json::json!({
        "bos_token_id": bos.as_ref().map(|b| b.0),
        "eos_token_id": eos.as_ref().map(|e| e.0),
    });
    let json = |v: &serde_json::Value| -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(v).map_err(|e| Error::Config(e.to_string()))
    };
    Ok(ConfigAndTokenizer {
        config,
        others: vec![
            ("tokenizer.json".into(), tokenizer.to_json()?.into_bytes()),
            ("tokenizer_config.json".into(), json(&tokenizer_config)?),
            ("generation_config.json".into(), json(&generation)?),
        ],
    })
}

/// Writes `weights` (Hugging Face names, in order) and `files` into the model directory `out`:
/// one `model.safetensors`, or shards of at most `max_shard_bytes` with
/// `model.safetensors.index.json`; every file atomically.
pub fn write_model_directory(
    out: &Path,
    weights: &[(String, Tensor)],
    files: &ConfigAndTokenizer,
    max_shard_bytes: u64,
) -> Result<ExportReport> {
    indievalue_files::create_dir_all(out)?;
    let size = |t: &Tensor| (t.elem_count() * t.dtype().size_in_bytes()) as u64;
    let mut shards: Vec<Vec<(String, Tensor)>> = vec![Vec::new()];
    let mut current = 0u64;
    for (name, t) in weights {
        let bytes = size(t);
        if current > 0 && current + bytes > max_shard_bytes {
            shards.push(Vec::new());
            current = 0;
        }
        current += bytes;
        if let Some(last) = shards.last_mut() {
            last.push((name.clone(), t.clone()));
        }
    }
    let total: u64 = weights.iter().map(|(_, t)| size(t)).sum();
    let mut written = Vec::new();
    if shards.len() == 1 {
        let path = out.join("model.safetensors");
        crate::tensors::write_safetensors(&path, &shards[0], Some("pt"))?;
        written.push(path);
    } else {
        let n = shards.len();
        let mut map = serde_json::Map::new();
        for (i, shard) in shards.iter().enumerate() {
            let name = format!("model-{:05}-of-{n:05}.safetensors", i + 1);
            let path = out.join(&name);
            crate::tensors::write_safetensors(&path, shard, Some("pt"))?;
            for (tensor, _) in shard {
                map.insert(tensor.clone(), name.clone().into());
            }
            written.push(path);
        }
        let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": map});
        let path = out.join("model.safetensors.index.json");
        indievalue_files::write_json_atomic(&path, &index)?;
        written.push(path);
    }
    let config = out.join("config.json");
    indievalue_files::write_json_atomic(&config, &files.config)?;
    written.push(config);
    for (name, bytes) in &files.others {
        let path = out.join(name);
        indievalue_files::write_atomic(&path, bytes)?;
        written.push(path);
    }
    Ok(ExportReport {
        files: written,
        merged: 0,
        tensors: weights.len(),
        weight_bytes: total,
    })
}

/// Loads the model of `source` (in `options.dtype`), merges the PEFT adapter in `adapter` into
/// its weights when given, and writes it as a Hugging Face model directory into `out`.
pub fn export_model(
    source: &ModelSource,
    options: &LoadOptions,
    adapter: Option<&Path>,
    out: &Path,
    max_shard_bytes: u64,
) -> Result<ExportReport> {
    let mut merge = adapter
        .map(|dir| AdapterMerge::read(dir, &options.device))
        .transpose()?;
    let mut weights: Vec<(String, Tensor)> = Vec::new();
    // Separate weights, kept as given: the model shares the tensors written here.
    let options = LoadOptions {
        kernels: Kernels::Differentiable,
        ..options.clone()
    };
    let loaded = load_model_with(source, &options, |name, w| {
        let w = match merge.as_mut() {
            Some(m) => m.apply(name, w)?,
            None => w,
        };
        weights.push((name.to_owned(), w.clone()));
        Ok(HookedWeight::Tensor(w))
    })?;
    let merged = merge.map(AdapterMerge::finish).transpose()?.unwrap_or(0);
    let files = config_and_tokenizer(source, &loaded, options.dtype)?;
    let mut report = write_model_directory(out, &weights, &files, max_shard_bytes)?;
    report.merged = merged;
    Ok(report)
}
