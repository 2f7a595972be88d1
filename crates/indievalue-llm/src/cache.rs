//! The key/value cache: what a model has seen, per layer, that later tokens attend to.

use crate::batch::TokenBatch;
use candle_core::Tensor;

/// Keys and values of the tokens a model has seen, per layer, for `rows` sequences.
///
/// A cache filled with one prefix (one row) can be shared by any number of continuations through
/// [`Llama::forward_continuations`](crate::Llama::forward_continuations), which reads the prefix's keys and values in place: no copy
/// per continuation. Cloning a cache is cheap (tensors are reference counted).
#[derive(Debug, Clone)]
pub struct KvCache {
    /// Per layer: keys and values `[rows, kv_heads, len, head_dim]`, once filled.
    pub(crate) layers: Vec<Option<(Tensor, Tensor)>>,
    rows: usize,
    len: usize,
    /// Per row: position of the next real token.
    next_position: Vec<u32>,
    /// Per row and key: whether it is a real token (row-major, `rows × len`).
    key_valid: Vec<bool>,
}

impl KvCache {
    /// An empty cache for `rows` sequences of a model with `layers` blocks.
    pub fn new(layers: usize, rows: usize) -> KvCache {
        KvCache {
            layers: vec![None; layers],
            rows,
            len: 0,
            next_position: vec![0; rows],
            key_valid: Vec::new(),
        }
    }

    /// Tokens held per row (padding included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been seen yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of sequences.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Position the next real token of row `r` gets.
    pub fn next_position(&self, r: usize) -> u32 {
        self.next_position[r]
    }

    pub(crate) fn key_valid(&self, r: usize, j: usize) -> bool {
        self.key_valid[r * self.len + j]
    }

    /// Appends the validity of `batch`'s tokens; returns positions of its tokens.
    pub(crate) fn advance(&mut self, batch: &TokenBatch) -> Vec<u32> {
        let n = batch.len();
        let mut positions = Vec::with_capacity(self.rows * n);
        let mut key_valid = Vec::with_capacity(self.rows * (self.len + n));
        for r in 0..self.rows {
            key_valid.extend_from_slice(&self.key_valid[r * self.len..(r + 1) * self.len]);
            key_valid.extend_from_slice(batch.row_valid(r));
            for &v in batch.row_valid(r) {
                positions.push(self.next_position[r]);
                if v {
                    self.next_position[r] += 1;
                }
            }
        }
        self.key_valid = key_valid;
        self.len += n;
        positions
    }
}
