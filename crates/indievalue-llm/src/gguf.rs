//! GGUF metadata (format versions 2 and 3), read without the tensors.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// Unsigned integer (u8, u16, u32, u64).
    U64(u64),
    /// Signed integer (i8, i16, i32, i64).
    I64(i64),
    /// Float (f32, f64).
    F64(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string.
    String(String),
    /// Array of values.
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U64(v) => Some(v),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F64(v) => Some(v),
            GgufValue::U64(v) => Some(v as f64),
            GgufValue::I64(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// The metadata of a GGUF file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufMetadata {
    /// Format version (2 or 3).
    pub version: u32,
    /// Number of tensors the file declares.
    pub tensor_count: u64,
    /// Key-value pairs.
    pub values: BTreeMap<String, GgufValue>,
}

/// Metadata values read in all, at most (a vocabulary of 256K tokens plus merges fits easily).
const MAX_VALUES: u64 = 1 << 23;

struct Cursor<R> {
    inner: R,
    offset: u64,
    path: PathBuf,
    /// Array elements read so far.
    values: u64,
}

impl<R: Read> Cursor<R> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Gguf {
            path: self.path.clone(),
            offset: self.offset,
            message: message.into(),
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.err("file ends early (truncated)")
            } else {
                self.err(e.to_string())
            }
        })?;
        self.offset += N as u64;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn string(&mut self) -> Result<String> {
        let len = self.u64()?;
        if len > (1 << 30) {
            return Err(self.err(format!("string of {len} bytes is implausible")));
        }
        // Read what is there instead of allocating a declared length up front.
        let mut buf = Vec::new();
        (&mut self.inner)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(e.to_string()))?;
        if buf.len() as u64 != len {
            return Err(self.err("file ends early (truncated)"));
        }
        self.offset += len;
        String::from_utf8(buf).map_err(|_| self.err("string is not UTF-8"))
    }

    fn value(&mut self, kind: u32, depth: usize) -> Result<GgufValue> {
        Ok(match kind {
            0 => GgufValue::U64(u64::from(u8::from_le_bytes(self.bytes()?))),
            1 => GgufValue::I64(i64::from(i8::from_le_bytes(self.bytes()?))),
            2 => GgufValue::U64(u64::from(u16::from_le_bytes(self.bytes()?))),
            3 => GgufValue::I64(i64::from(i16::from_le_bytes(self.bytes()?))),
            4 => GgufValue::U64(u64::from(self.u32()?)),
            5 => GgufValue::I64(i64::from(i32::from_le_bytes(self.bytes()?))),
            6 => GgufValue::F64(f64::from(f32::from_le_bytes(self.bytes()?))),
            7 => GgufValue::Bool(u8::from_le_bytes(self.bytes()?) != 0),
            8 => GgufValue::String(self.string()?),
            9 => {
                if depth > 4 {
                    return Err(self.err("arrays nested too deeply"));
                }
                let inner = self.u32()?;
                let count = self.u64()?;
                self.values += count;
                if self.values > MAX_VALUES {
                    return Err(self.err(format!(
                        "more than {MAX_VALUES} metadata values in all; refusing to read more"
                    )));
                }
                let mut items = Vec::with_capacity(count.min(1 << 20) as usize);
                for _ in 0..count {
                    items.push(self.value(inner, depth + 1)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(self.u64()?),
            11 => GgufValue::I64(i64::from_le_bytes(self.bytes()?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.bytes()?)),
            other => return Err(self.err(format!("unknown value type {other}"))),
        })
    }
}

impl GgufMetadata {
    /// Reads the metadata of a GGUF file.
    pub fn read(path: impl AsRef<Path>) -> Result<GgufMetadata> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_reader(BufReader::with_capacity(1 << 20, file), path)
    }

    /// Reads GGUF metadata from a reader; `name` is used in errors.
    pub fn from_reader(reader: impl Read, name: impl AsRef<Path>) -> Result<GgufMetadata> {
        let mut c = Cursor {
            inner: reader,
            offset: 0,
            path: name.as_ref().to_owned(),
            values: 0,
        };
        let magic = c.bytes::<4>()?;
        if &magic != b"GGUF" {
            return Err(c.err(format!("not a GGUF file (magic {magic:?})")));
        }
        let version = c.u32()?;
        if !(2..=3).contains(&version) {
            return Err(c.err(format!("unsupported GGUF version {version}")));
        }
        let tensor_count = c.u64()?;
        let kv_count = c.u64()?;
        if kv_count > (1 << 20) {
            return Err(c.err(format!("{kv_count} metadata entries is implausible")));
        }
        let mut values = BTreeMap::new();
        for _ in 0..kv_count {
            let key = c.string()?;
            let kind = c.u32()?;
            let value = c.value(kind, 0)?;
            if values.insert(key.clone(), value).is_some() {
                return Err(c.err(format!("key {key:?} appears twice")));
            }
        }
        Ok(GgufMetadata {
            version,
            tensor_count,
            values,
        })
    }

    /// A value by key.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.values.get(key)
    }

    /// A string value by key.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }

    /// An unsigned integer value by key.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(GgufValue::as_u64)
    }

    /// The model's chat template, if it ships one.
    pub fn chat_template(&self) -> Option<&str> {
        self.get_str("tokenizer.chat_template")
    }
}
