//! Named tensors in safetensors files, written atomically through the file layer.

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Writes `tensors` (contiguous copies are made where needed) to `path`, atomically; `format`
/// goes into the file's metadata (`"pt"`, as PyTorch writers record).
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    format: Option<&str>,
) -> Result<()> {
    let owned: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, t)| {
            t.to_device(&Device::Cpu)
                .and_then(|t| t.contiguous())
                .map(|t| (k.clone(), t))
                .map_err(|source| Error::Tensor {
                    context: "copying a tensor to write it",
                    source,
                })
        })
        .collect::<Result<_>>()?;
    let metadata: Option<HashMap<String, String>> =
        format.map(|f| HashMap::from([("format".to_owned(), f.to_owned())]));
    let bytes = safetensors::serialize(owned.iter().map(|(k, t)| (k.as_str(), t)), metadata)
        .map_err(|e| Error::Weights {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    Ok(indievalue_files::write_atomic(path, &bytes)?)
}

/// Reads every tensor of a safetensors file onto `device`, by name.
pub fn read_safetensors(path: &Path, device: &Device) -> Result<BTreeMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::Files(indievalue_files::Error::Io {
            path: path.to_owned(),
            source,
        })
    })?;
    let loaded =
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| Error::Weights {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    Ok(loaded.into_iter().collect())
}
