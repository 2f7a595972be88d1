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

    /// The id of a token, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
