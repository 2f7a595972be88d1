//! Parsing: integer cells, the header's column layout, and each block's rows into columns, the
//! blocks in parallel.

use crate::blocks::BlockReader;
use crate::{ConvertOptions, EmptyCell, Error, Progress, Result};
use indievalue_catalog::Catalog;
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// Parses an integer cell: optional surrounding spaces, optional sign, up to 18 digits.
#[inline]
fn parse_i64(cell: &[u8]) -> Option<i64> {
    let mut s = cell;
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

/// The needed columns' positions in the header.
pub(crate) struct Layout {
    /// The header's column names.
    pub(crate) header: Vec<String>,
    /// The `D_INTERVIEW` column.
    pub(crate) id: usize,
    /// Value questions, then demographic items, in catalog order.
    pub(crate) codes: Vec<usize>,
}

/// The rows of one block, column-major.
#[derive(Default)]
pub(crate) struct Block {
    /// The `D_INTERVIEW` of each row.
    pub(crate) ids: Vec<i64>,
    /// One vector per needed column (value questions, then demographic items).
    pub(crate) columns: Vec<Vec<i32>>,
    /// A short record that ended the block: (line, fields). Only the file's last line may be one.
    pub(crate) short_at_end: Option<(u64, usize)>,
    /// Records in the block, blank lines not counted.
    pub(crate) lines: u64,
}

/// What [`parse_input`] read: the blocks with rows, in file order, and the input's last byte.
pub(crate) struct Parsed {
    /// The blocks.
    pub(crate) blocks: Vec<Block>,
    /// The last byte of the input, if it has any after the header.
    pub(crate) last_byte: Option<u8>,
}

/// Parses the input after the header line (`header_bytes` long), up to one block per worker at a
/// time, calling `progress` after each round.
pub(crate) fn parse_input(
    input: &mut BlockReader<impl Read>,
    layout: &Layout,
    path: &Path,
    options: &ConvertOptions,
    header_bytes: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Parsed> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let width = layout.codes.len();
    let mut blocks: Vec<Block> = Vec::new();
    let mut next_line = 2u64;
    let mut bytes_done = header_bytes;
    let mut last_byte: Option<u8> = None;
    loop {
        // Gather up to one block per worker, each cut at a line end outside quotes.
        let workers = rayon::current_num_threads().max(1);
        let chunk_bufs = input.next_blocks(workers).map_err(io)?;
        if chunk_bufs.is_empty() {
            break;
        }
        let parsed = parse_blocks(&chunk_bufs, next_line, layout, width, path, options);
        for (block, buf) in parsed.into_iter().zip(&chunk_bufs) {
            let block = block?;
            if let Some((line, found)) = blocks.last().and_then(|b| b.short_at_end)
                && block.lines > 0
            {
                return Err(Error::FieldCount {
                    path: path.to_owned(),
                    line,
                    expected: layout.header.len(),
                    found,
                });
            }
            next_line += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            bytes_done += buf.len() as u64;
            if let Some(&b) = buf.last() {
                last_byte = Some(b);
            }
            if block.lines > 0 {
                blocks.push(block);
            }
        }
        let rows: u64 = blocks.iter().map(|b| b.ids.len() as u64).sum();
        progress(Progress {
            bytes: bytes_done,
            rows,
        });
    }
    Ok(Parsed { blocks, last_byte })
}

/// Parses blocks in parallel; `next_line` is the file line of the first block's first byte.
fn parse_blocks(
    chunk_bufs: &[Vec<u8>],
    next_line: u64,
    layout: &Layout,
    width: usize,
    path: &Path,
    options: &ConvertOptions,
) -> Vec<Result<Block>> {
    let starts: Vec<u64> = chunk_bufs
        .iter()
        .scan(next_line, |line, buf| {
            let start = *line;
            *line += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            Some(start)
        })
        .collect();
    chunk_bufs
        .par_iter()
        .zip(starts.par_iter())
        .map(|(buf, &start)| parse_block(buf, start, layout, width, path, options))
        .collect()
}

/// Finds the needed columns in the header line.
pub(crate) fn header_layout(catalog: &Catalog, path: &Path, line: &[u8]) -> Result<Layout> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    let has = rdr.read_byte_record(&mut record).map_err(|e| Error::Csv {
        path: path.to_owned(),
        line: 1,
        message: e.to_string(),
    })?;
    if !has {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h);
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                &h
            };
            h.trim().to_owned()
        })
        .collect();
    if header.len() == 1 && header[0].is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    let find = |column: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| Error::MissingColumn {
                path: path.to_owned(),
                column: column.to_owned(),
            })
    };
    let id = find(&catalog.survey().id_column)?;
    let mut codes = Vec::new();
    for q in catalog.questions() {
        codes.push(find(q.id().as_str())?);
    }
    for d in catalog.demographics() {
        codes.push(find(d.column())?);
    }
    Ok(Layout { header, id, codes })
}

/// Parses the complete lines of one block; `first_line` is the file line of its first byte.
fn parse_block(
    bytes: &[u8],
    first_line: u64,
    layout: &Layout,
    width: usize,
    path: &Path,
    options: &ConvertOptions,
) -> Result<Block> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    // Rough rows in the block, from the bytes per row of a full-width row of small codes.
    let estimate = bytes.len() / (2 * expected_width(layout)).max(1) + 1;
    let mut block = Block {
        // (`vec![v; n]` clones, and a clone does not keep the capacity.)
        columns: (0..width).map(|_| Vec::with_capacity(estimate)).collect(),
        ..Block::default()
    };
    let line_of =
        |record: &csv::ByteRecord| first_line + record.position().map_or(1, |p| p.line()) - 1;
    let expected = layout.header.len();
    loop {
        let more = rdr.read_byte_record(&mut record).map_err(|e| Error::Csv {
            path: path.to_owned(),
            line: first_line + e.position().map_or(1, |p| p.line()) - 1,
            message: e.to_string(),
        })?;
        if !more {
            break;
        }
        let line = line_of(&record);
        if record.len() == 1 && record.as_slice().is_empty() {
            continue; // a blank line
        }
        if let Some((short_line, found)) = block.short_at_end {
            return Err(Error::FieldCount {
                path: path.to_owned(),
                line: short_line,
                expected,
                found,
            });
        }
        block.lines += 1;
        if record.len() != expected {
            if record.len() < expected {
                block.short_at_end = Some((line, record.len()));
                continue;
            }
            return Err(Error::FieldCount {
                path: path.to_owned(),
                line,
                expected,
                found: record.len(),
            });
        }
        let cell = |col: usize| parse_cell(&record, col, line, layout, path, options);
        block.ids.push(cell(layout.id)?);
        for (column, &col) in block.columns.iter_mut().zip(&layout.codes) {
            // `cell` checked that codes other than the id fit an i32.
            column.push(cell(col)? as i32);
        }
    }
    Ok(block)
}

/// Reads cell `col` of a record on file line `line` as an integer code (only the id may exceed 32
/// bits).
#[inline]
fn parse_cell(
    record: &csv::ByteRecord,
    col: usize,
    line: u64,
    layout: &Layout,
    path: &Path,
    options: &ConvertOptions,
) -> Result<i64> {
    let bytes = record.get(col).unwrap_or(b"");
    if let Some(v) = parse_i64(bytes)
        && (col == layout.id || i32::try_from(v).is_ok())
    {
        return Ok(v);
    }
    if let (EmptyCell::Code(code), true, false) = (
        options.empty_cell,
        bytes.iter().all(|b| b.is_ascii_whitespace()),
        col == layout.id,
    ) {
        return Ok(code.into());
    }
    Err(Error::NotInteger {
        path: path.to_owned(),
        line,
        row: line.saturating_sub(1),
        column: layout.header[col].clone(),
        value: String::from_utf8_lossy(bytes).into_owned(),
    })
}

/// Fields per row (for size estimates).
fn expected_width(layout: &Layout) -> usize {
    layout.header.len()
}

#[cfg(test)]
mod tests {
    use super::parse_i64 as parse_int;

    #[test]
    fn integers_parse_strictly() {
        assert_eq!(parse_int(b"12"), Some(12));
        assert_eq!(parse_int(b"-4"), Some(-4));
        assert_eq!(parse_int(b" 7 "), Some(7));
        assert_eq!(parse_int(b"+3"), Some(3));
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"1.5"), None);
        assert_eq!(parse_int(b"abc"), None);
        assert_eq!(parse_int(b"9999999999999999999"), None);
        assert_eq!(parse_int(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_int(b"-2147483648"), Some(i64::from(i32::MIN)));
    }
}
