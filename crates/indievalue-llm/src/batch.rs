//! Token batches: the ids of one or more sequences, padded to one length, with a validity mask.

use crate::{Error, Result};

/// Token ids of one or more sequences, padded to one length, with a validity mask.
///
/// Positions are counted over valid tokens only, so left and right padding both give every row
/// the positions of its unpadded run.
///
/// ```
/// use indievalue_llm::TokenBatch;
/// let b = TokenBatch::left_padded(&[vec![5, 6, 7], vec![8]], 0).unwrap();
/// assert_eq!((b.rows(), b.len()), (2, 3));
/// assert_eq!(b.row_ids(1), &[0, 0, 8]);
/// assert_eq!(b.row_valid(1), &[false, false, true]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    ids: Vec<u32>,
    valid: Vec<bool>,
    rows: usize,
    len: usize,
}

impl TokenBatch {
    /// One unpadded sequence.
    pub fn single(ids: &[u32]) -> TokenBatch {
        TokenBatch {
            ids: ids.to_vec(),
            valid: vec![true; ids.len()],
            rows: 1,
            len: ids.len(),
        }
    }

    /// Sequences padded at the end with `pad`.
    pub fn right_padded(rows: &[Vec<u32>], pad: u32) -> Result<TokenBatch> {
        Self::padded(rows, pad, false)
    }

    /// Sequences padded at the start with `pad`.
    pub fn left_padded(rows: &[Vec<u32>], pad: u32) -> Result<TokenBatch> {
        Self::padded(rows, pad, true)
    }

    fn padded(rows: &[Vec<u32>], pad: u32, left: bool) -> Result<TokenBatch> {
        if rows.is_empty() || rows.iter().any(|r| r.is_empty()) {
            return Err(Error::Input(
                "a batch needs at least one row and no empty row".into(),
            ));
        }
        let len = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len() * len);
        let mut valid = Vec::with_capacity(rows.len() * len);
        for row in rows {
            let padding = len - row.len();
            if left {
                ids.extend(std::iter::repeat_n(pad, padding));
                valid.extend(std::iter::repeat_n(false, padding));
            }
            ids.extend_from_slice(row);
            valid.extend(std::iter::repeat_n(true, row.len()));
            if !left {
                ids.extend(std::iter::repeat_n(pad, padding));
                valid.extend(std::iter::repeat_n(false, padding));
            }
        }
        Ok(TokenBatch {
            ids,
            valid,
            rows: rows.len(),
            len,
        })
    }

    /// A batch from row-major ids and validity flags (`rows × len` each).
    pub fn from_parts(ids: Vec<u32>, valid: Vec<bool>, rows: usize) -> Result<TokenBatch> {
        if rows == 0 || ids.len() != valid.len() || !ids.len().is_multiple_of(rows) {
            return Err(Error::Input(format!(
                "{} ids and {} flags do not make {rows} equal rows",
                ids.len(),
                valid.len()
            )));
        }
        let len = ids.len() / rows;
        Ok(TokenBatch {
            ids,
            valid,
            rows,
            len,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Padded length of every row.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether rows have no tokens.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids of row `r`, padding included.
    pub fn row_ids(&self, r: usize) -> &[u32] {
        &self.ids[r * self.len..(r + 1) * self.len]
    }

    /// Which entries of row `r` are real tokens.
    pub fn row_valid(&self, r: usize) -> &[bool] {
        &self.valid[r * self.len..(r + 1) * self.len]
    }

    /// All ids, row-major (`rows × len`), padding included.
    pub(crate) fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// All validity flags, row-major (`rows × len`).
    pub(crate) fn valid(&self) -> &[bool] {
        &self.valid
    }

    /// Columns `start..start + n` of every row.
    pub(crate) fn columns(&self, start: usize, n: usize) -> TokenBatch {
        let mut ids = Vec::with_capacity(self.rows * n);
        let mut valid = Vec::with_capacity(self.rows * n);
        for r in 0..self.rows {
            ids.extend_from_slice(&self.row_ids(r)[start..start + n]);
            valid.extend_from_slice(&self.row_valid(r)[start..start + n]);
        }
        TokenBatch {
            ids,
            valid,
            rows: self.rows,
            len: n,
        }
    }
}
