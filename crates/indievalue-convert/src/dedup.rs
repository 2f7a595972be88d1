//! Deduplicating rows on `D_INTERVIEW` (the first is kept) and gathering the kept rows' columns.

use crate::parse::Block;
use rayon::prelude::*;
use std::collections::HashSet;

/// Rows of one block to keep: `None` when every row is kept, else the kept rows.
pub(crate) type Kept = Option<Vec<usize>>;

/// Deduplicates the blocks' rows in file order: the kept ids, and the kept rows per block.
pub(crate) fn dedup(blocks: &[Block], rows_read: u64) -> (Vec<i64>, Vec<Kept>) {
    let mut seen: HashSet<i64> = HashSet::with_capacity(rows_read as usize);
    let mut ids = Vec::with_capacity(rows_read as usize);
    // Per block: None when every row is kept, else the kept rows.
    let mut kept: Vec<Option<Vec<usize>>> = Vec::with_capacity(blocks.len());
    for block in blocks {
        let mut rows = Vec::new();
        let mut all = true;
        for (r, &id) in block.ids.iter().enumerate() {
            if seen.insert(id) {
                rows.push(r);
                ids.push(id);
            } else {
                all = false;
            }
        }
        kept.push((!all).then_some(rows));
    }
    (ids, kept)
}

/// Gathers the kept rows of each of the `width` columns over all blocks (`total` rows), the
/// columns in parallel.
pub(crate) fn gather_columns(
    blocks: &[Block],
    kept: &[Kept],
    width: usize,
    total: usize,
) -> Vec<Vec<i32>> {
    (0..width)
        .into_par_iter()
        .map(|c| {
            let mut column = Vec::with_capacity(total);
            for (block, rows) in blocks.iter().zip(kept) {
                let values = &block.columns[c];
                match rows {
                    None => column.extend_from_slice(values),
                    Some(rows) => column.extend(rows.iter().map(|&r| values[r])),
                }
            }
            column
        })
        .collect()
}
