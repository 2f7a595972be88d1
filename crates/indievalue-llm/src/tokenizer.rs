//! Tokenizers from Hugging Face `tokenizer.json` files.

use crate::{Error, Result};
use std::path::Path;

/// A text tokenizer (any model `tokenizers` reads: BPE, byte-level, with added special tokens).
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<TextTokenizer> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::Io {
                path: path.to_owned(),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::Tokenizer {
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(TextTokenizer { inner })
    }

    /// Token ids of `text`; special tokens written in the text (such as
    /// `<|start_header_id|>`) are recognised, none is added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Tokenizer {
                what: "encode".into(),
                message: e.to_string(),
            })
    }

    /// The text of token ids (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, false).map_err(|e| Error::Tokenizer {
            what: "decode".into(),
            message: e.to_string(),
        })
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The tokenizer as a Hugging Face `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(|e| Error::Tokenizer {
            what: "tokenizer.json".into(),
            message: e.to_string(),
        })
    }

    /// The text of a token id, if the vocabulary has it.
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

/// Llama 3's pre-tokenizer pattern (llama.cpp `llama-bpe`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

impl TextTokenizer {
    /// Builds the byte-level BPE tokenizer a GGUF file describes (`tokenizer.ggml.model`
    /// `gpt2`): its tokens, merges and special tokens (token type 3, control), with the
    /// pre-tokenizer that `tokenizer.ggml.pre` names: `gpt2`/`default` (GPT-2 pattern),
    /// `smollm` (each digit alone, then the GPT-2 pattern) or `llama-bpe`/`llama3` (Llama 3's
    /// pattern). `origin` names the file in errors.
    pub fn from_gguf(meta: &crate::GgufMetadata, origin: &Path) -> Result<TextTokenizer> {
        let err = |message: String| Error::Tokenizer {
            what: origin.display().to_string(),
            message,
        };
        let model = meta.get_str("tokenizer.ggml.model").unwrap_or("");
        if model != "gpt2" {
            return Err(err(format!(
                "tokenizer.ggml.model {model:?} is not supported (only byte-level BPE, \"gpt2\")"
            )));
        }
        let strings = |key: &str| -> Result<Vec<&str>> {
            let values = meta
                .get(key)
                .and_then(|v| v.as_array())
                .ok_or_else(|| err(format!("{key} is missing")))?;
            values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .ok_or_else(|| err(format!("{key}[{i}] is not text")))
                })
                .collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<u64> = match meta
            .get("tokenizer.ggml.token_type")
            .and_then(|v| v.as_array())
        {
            Some(t) => t.iter().map(|v| v.as_u64().unwrap_or(1)).collect(),
            None => vec![1; tokens.len()],
        };
        let byte_level = |regex: bool| serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": regex});
        let pre = meta.get_str("tokenizer.ggml.pre").unwrap_or("default");
        let pre_tokenizer = match pre {
            "gpt2" | "default" => byte_level(true),
            "smollm" => serde_json::json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            "llama-bpe" | "llama3" => serde_json::json!({"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": false},
                byte_level(false)]}),
            other => {
                return Err(err(format!(
                    "tokenizer.ggml.pre {other:?} is not supported (gpt2, default, smollm, llama-bpe)"
                )));
            }
        };
        let mut vocab = serde_json::Map::new();
        let mut added = Vec::new();
        for (id, (token, kind)) in tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .enumerate()
        {
            vocab.insert((*token).to_owned(), serde_json::json!(id));
            // 3: control (special), 4: user defined (added, not special).
            if *kind == 3 || *kind == 4 {
                added.push(
                    serde_json::json!({"id": id, "content": token, "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false, "special": *kind == 3}),
                );
            }
        }
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": merges},
        });
        let inner: tokenizers::Tokenizer = json
            .to_string()
            .parse()
            .map_err(|e: tokenizers::Error| err(format!("building the BPE tokenizer: {e}")))?;
        Ok(TextTokenizer { inner })
    }
}
