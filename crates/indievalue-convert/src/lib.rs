//! # indievalue-convert
//!
//! Streams the raw World Values Survey Wave 7 cross-national CSV into the catalog's
//! [`Respondents`] table and its Parquet file, and reports Table 1's "data with valid labels"
//! figures ([`ConversionReport`]).
//!
//! - Columns are found by header name, in any order; extra columns are ignored; a UTF-8 BOM and
//!   CRLF line ends are accepted.
//! - Rows are deduplicated on `D_INTERVIEW` (the first is kept, the others counted).
//! - Raw codes become statement indices for both granularities through the catalog; negative codes
//!   and codes the catalog does not know become "no valid answer" and are counted per question.
//! - Bad input is a typed [`Error`] naming the file, line, column and value. A truncated last line
//!   (fewer fields than the header, at the very end) is dropped and reported in
//!   [`ConversionReport::truncated_last_line`]; a short line anywhere else is an error.
//!
//! ```
//! use indievalue_catalog::{Catalog, mini_catalog_dir};
//! use indievalue_convert::{convert_file, write_dataset, ConvertOptions};
//! use indievalue_synth::{SynthConfig, SyntheticModel};
//! let catalog = Catalog::load(mini_catalog_dir())?;
//! let dir = tempfile::tempdir().unwrap();
//! let csv = dir.path().join("wvs.csv");
//! let config = SynthConfig { people: 50, ..Default::default() };
//! SyntheticModel::new(&catalog, &config).unwrap().write_csv(&catalog, &csv).unwrap();
//!
//! let conversion = convert_file(&catalog, &csv, &ConvertOptions::default())?;
//! assert_eq!(conversion.report.people, 50);
//! write_dataset(&catalog, &conversion, dir.path().join("data"))?;
//! # Ok::<(), indievalue_convert::Error>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use indievalue_catalog::storage::ID_COLUMN;
use indievalue_catalog::{COUNTRY_ITEM, Catalog, Continent, Respondents};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// File name of the respondents table in a dataset directory.
pub const RESPONDENTS_FILE: &str = "respondents.parquet";
/// File name of the conversion report in a dataset directory.
pub const REPORT_FILE: &str = "report.json";
/// Format tag of the report.
pub const REPORT_FORMAT: &str = "indievalue-conversion-report/1";

/// Errors of the converter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV parser failed (bad quoting, invalid UTF-8 in the header, ...).
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// The file is empty (no header).
    #[error("{path}: the file is empty (no header line)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header but no data row.
    #[error("{path}: the file has a header but no data row")]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// A column the catalog needs is not in the header.
    #[error("{path}: required column {column} is missing from the header")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A cell of a needed column is not an integer.
    #[error(
        "{path}: line {line} (row {row}), column {column}: {value:?} is not an integer code \
         (codes must fit 32 bits)"
    )]
    NotInteger {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file.
        line: u64,
        /// 1-based data row (the line minus the header; exact unless blank lines or quoted
        /// line ends come before).
        row: u64,
        /// The column.
        column: String,
        /// The cell's text.
        value: String,
    },
    /// A row has a different number of fields than the header (and is not the truncated last
    /// line).
    #[error("{path}: line {line}: {found} fields, the header has {expected}")]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// The catalog rejected the converted table.
    #[error(transparent)]
    Catalog(#[from] indievalue_catalog::Error),
    /// The report could not be written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the converter treats an empty cell in a needed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EmptyCell {
    /// An empty cell is an error ([`Error::NotInteger`]).
    #[default]
    Error,
    /// An empty cell reads as this code (e.g. -5, "missing").
    Code(i32),
}

/// Options of a conversion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvertOptions {
    /// What an empty cell means.
    pub empty_cell: EmptyCell,
}

/// Invalid raw codes met in one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidCodes {
    /// The question id.
    pub question: String,
    /// People (after deduplication) whose answer was no valid answer.
    pub total: u64,
    /// Count per raw code.
    pub codes: BTreeMap<i32, u64>,
}

/// Table 1's conversion figures and everything else the converter counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionReport {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// The input file.
    pub source: String,
    /// Content hash of the catalog used.
    pub catalog_hash: String,
    /// Crate and version that converted the file.
    pub written_by: String,
    /// Data rows read (before deduplication, without a dropped truncated last line).
    pub rows_read: u64,
    /// People kept.
    pub people: u64,
    /// Rows dropped because their `D_INTERVIEW` was seen before.
    pub duplicates_dropped: u64,
    /// The line number of a truncated last line that was dropped, if any.
    pub truncated_last_line: Option<u64>,
    /// The input does not end with a line end. Its last row was complete in field count, but it
    /// may have been cut inside its last field: check the source file.
    pub last_line_unterminated: bool,
    /// Valid value answers over all people.
    pub valid_answers: u64,
    /// Mean valid value answers per person.
    pub valid_per_person_mean: f64,
    /// Population standard deviation of valid value answers per person.
    pub valid_per_person_sd: f64,
    /// People with a valid answer to every question of the catalog (253 for the authors').
    pub people_all_253: u64,
    /// Number of value questions in the catalog.
    pub questions: usize,
    /// Mean valid demographic answers per person.
    pub valid_demographics_mean: f64,
    /// People per continent (from the country), continents in alphabetical order; people whose
    /// country has no continent are under `"unknown"`.
    pub per_continent: BTreeMap<String, u64>,
    /// Invalid codes per question, catalog order.
    pub invalid_codes: Vec<InvalidCodes>,
}

/// The result of a conversion: the table and its report.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The respondents.
    pub respondents: Respondents,
    /// The report.
    pub report: ConversionReport,
}

/// Progress of a running conversion, passed to the callback of [`convert_reader_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input consumed.
    pub bytes: u64,
    /// Data rows read.
    pub rows: u64,
}

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

/// Converts a CSV file. See [`convert_reader_with_progress`].
pub fn convert_file(
    catalog: &Catalog,
    path: impl AsRef<Path>,
    options: &ConvertOptions,
) -> Result<Conversion> {
    convert_file_with_progress(catalog, path, options, &mut |_| {})
}

/// Converts a CSV file, reporting progress.
pub fn convert_file_with_progress(
    catalog: &Catalog,
    path: impl AsRef<Path>,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let size = file.metadata().map_or(0, |m| m.len());
    convert(catalog, file, path, options, size, progress)
}

/// Converts CSV read from `reader`; `name` is the file name used in errors and the report.
pub fn convert_reader(
    catalog: &Catalog,
    reader: impl Read,
    name: impl AsRef<Path>,
    options: &ConvertOptions,
) -> Result<Conversion> {
    convert_reader_with_progress(catalog, reader, name, options, &mut |_| {})
}

/// Converts CSV read from `reader`, calling `progress` every few thousand rows.
pub fn convert_reader_with_progress(
    catalog: &Catalog,
    reader: impl Read,
    name: impl AsRef<Path>,
    options: &ConvertOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    convert(catalog, reader, name.as_ref(), options, 0, progress)
}

/// Bytes per parsing block; blocks are cut at line ends and parsed in parallel.
const BLOCK_BYTES: usize = 4 << 20;

/// The needed columns' positions in the header.
struct Layout {
    header: Vec<String>,
    id: usize,
    /// Value questions, then demographic items, in catalog order.
    codes: Vec<usize>,
}

/// The rows of one block, column-major.
#[derive(Default)]
struct Block {
    ids: Vec<i64>,
    /// One vector per needed column (value questions, then demographic items).
    columns: Vec<Vec<i32>>,
    /// A short record that ended the block: (line, fields). Only the file's last line may be one.
    short_at_end: Option<(u64, usize)>,
    lines: u64,
}

/// The converter; `size_hint` (bytes of input, 0 when unknown) is used for progress only.
fn convert(
    catalog: &Catalog,
    mut reader: impl Read,
    path: &Path,
    options: &ConvertOptions,
    _size_hint: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Conversion> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    // Header: read until the first line end.
    let mut pending: Vec<u8> = Vec::with_capacity(BLOCK_BYTES * 2);
    let mut eof = false;
    let header_end = loop {
        if let Some(i) = pending.iter().position(|&b| b == b'\n') {
            break i + 1;
        }
        if eof {
            break pending.len();
        }
        eof = fill(&mut reader, &mut pending, BLOCK_BYTES).map_err(io)?;
    };
    let layout = header_layout(catalog, path, &pending[..header_end])?;
    pending.drain(..header_end);

    let width = layout.codes.len();
    let mut blocks: Vec<Block> = Vec::new();
    let mut next_line = 2u64;
    let mut bytes_done = header_end as u64;
    let mut last_byte: Option<u8> = None;
    loop {
        // Gather up to one block per worker, each cut at a line end outside quotes.
        let workers = rayon::current_num_threads().max(1);
        let mut chunk_bufs: Vec<Vec<u8>> = Vec::with_capacity(workers);
        // How much of `pending` to search for a cut; grows when a record is longer than a block.
        let mut window = BLOCK_BYTES;
        while chunk_bufs.len() < workers {
            while !eof && pending.len() < window {
                // Read just up to the window, so what is left after the cut is at most a record.
                let want = (window - pending.len()).max(1 << 16);
                eof = fill(&mut reader, &mut pending, want).map_err(io)?;
            }
            if pending.is_empty() {
                break;
            }
            let cut = if eof && pending.len() <= window {
                pending.len()
            } else {
                match line_cut(&pending[..pending.len().min(window)]) {
                    Some(c) => c,
                    // No record end in the whole window: widen it and read more.
                    None if !eof => {
                        window = pending.len() + BLOCK_BYTES;
                        continue;
                    }
                    None => pending.len(),
                }
            };
            window = BLOCK_BYTES;
            // The chunk keeps the buffer; only the short remainder is copied.
            let mut chunk = std::mem::take(&mut pending);
            pending.reserve(BLOCK_BYTES + (1 << 16));
            pending.extend_from_slice(&chunk[cut..]);
            chunk.truncate(cut);
            chunk_bufs.push(chunk);
        }
        if chunk_bufs.is_empty() {
            break;
        }
        let starts: Vec<u64> = chunk_bufs
            .iter()
            .scan(next_line, |line, buf| {
                let start = *line;
                *line += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                Some(start)
            })
            .collect();
        let parsed: Vec<Result<Block>> = chunk_bufs
            .par_iter()
            .zip(starts.par_iter())
            .map(|(buf, &start)| parse_block(buf, start, &layout, width, path, options))
            .collect();
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
    if layout.header.len() == 1 && layout.header[0].is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    let truncated_last_line = blocks
        .last()
        .and_then(|b| b.short_at_end)
        .map(|(line, _)| line);
    let rows_read: u64 = blocks.iter().map(|b| b.ids.len() as u64).sum();
    if rows_read == 0 {
        return Err(Error::NoRows {
            path: path.to_owned(),
        });
    }

    // Deduplicate in file order, then gather each column in parallel.
    let mut seen: HashSet<i64> = HashSet::with_capacity(rows_read as usize);
    let mut ids = Vec::with_capacity(rows_read as usize);
    // Per block: None when every row is kept, else the kept rows.
    let mut kept: Vec<Option<Vec<usize>>> = Vec::with_capacity(blocks.len());
    for block in &blocks {
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
    let duplicates = rows_read - ids.len() as u64;
    let total = ids.len();
    let mut columns: Vec<Vec<i32>> = (0..width)
        .into_par_iter()
        .map(|c| {
            let mut column = Vec::with_capacity(total);
            for (block, rows) in blocks.iter().zip(&kept) {
                let values = &block.columns[c];
                match rows {
                    None => column.extend_from_slice(values),
                    Some(rows) => column.extend(rows.iter().map(|&r| values[r])),
                }
            }
            column
        })
        .collect();
    drop(blocks);
    let raw_demographics = columns.split_off(catalog.questions().len());
    let respondents = Respondents::from_raw(catalog, ids, columns, raw_demographics)?;
    let mut report = report(
        catalog,
        &respondents,
        path,
        rows_read,
        duplicates,
        truncated_last_line,
    );
    report.last_line_unterminated =
        truncated_last_line.is_none() && last_byte.is_some_and(|b| b != b'\n');
    Ok(Conversion {
        respondents,
        report,
    })
}

/// Appends up to `want` more bytes; returns true at end of input.
fn fill(reader: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut filled = start;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Ok(true);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(filled);
                return Err(e);
            }
        }
    }
    Ok(false)
}

/// The end (exclusive) of the last complete record of `bytes` (which starts at a record
/// boundary), following the CSV parser's quoting rules: a quote opens a quoted field only at the
/// start of a field, `""` inside one is an escaped quote, and a line end inside one belongs to the
/// field. `None` when no record ends in `bytes`.
fn line_cut(bytes: &[u8]) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteEnd,
    }
    // Jump from quote to quote (SIMD searches); only quotes change the quoting state, and
    // between two quotes the last line end outside a quoted field is the candidate cut.
    let mut state = State::FieldStart;
    let mut last = None;
    let mut i = 0;
    while i < bytes.len() {
        let next = memchr::memchr(b'"', &bytes[i..]).map_or(bytes.len(), |k| i + k);
        let segment = &bytes[i..next];
        if !segment.is_empty() && state != State::Quoted {
            if let Some(k) = memchr::memrchr(b'\n', segment) {
                last = Some(i + k + 1);
            }
            state = match segment.last() {
                Some(b',' | b'\n') => State::FieldStart,
                _ => State::Unquoted,
            };
        }
        if next == bytes.len() {
            break;
        }
        state = match state {
            State::FieldStart | State::QuoteEnd => State::Quoted,
            State::Quoted => State::QuoteEnd,
            State::Unquoted => State::Unquoted,
        };
        i = next + 1;
    }
    last
}

#[cfg(test)]
mod cut_tests {
    use super::line_cut;

    #[test]
    fn cuts_follow_csv_quoting() {
        assert_eq!(line_cut(b"a,b\nc,d\ne"), Some(8));
        assert_eq!(line_cut(b"a,\"x\ny\",b\nc"), Some(10));
        // A stray quote inside an unquoted field opens nothing.
        assert_eq!(line_cut(b"ab\"c,\"x\ny\",d\nz"), Some(13));
        // An escaped quote inside a quoted field keeps it open.
        assert_eq!(line_cut(b"\"a\"\"\nb\",c\nd"), Some(10));
        assert_eq!(line_cut(b"\"open\nstill open"), None);
        assert_eq!(line_cut(b"no line end"), None);
    }
}

/// Finds the needed columns in the header line.
fn header_layout(catalog: &Catalog, path: &Path, line: &[u8]) -> Result<Layout> {
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
    let id = find(ID_COLUMN)?;
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
        let cell = |col: usize| -> Result<i64> {
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
        };
        block.ids.push(cell(layout.id)?);
        for (column, &col) in block.columns.iter_mut().zip(&layout.codes) {
            // `cell` checked that codes other than the id fit an i32.
            column.push(cell(col)? as i32);
        }
    }
    Ok(block)
}

/// Fields per row (for size estimates).
fn expected_width(layout: &Layout) -> usize {
    layout.header.len()
}

/// Counts the report's figures from a converted table.
fn report(
    catalog: &Catalog,
    people: &Respondents,
    path: &Path,
    rows_read: u64,
    duplicates_dropped: u64,
    truncated_last_line: Option<u64>,
) -> ConversionReport {
    let n = people.len();
    let mut valid = vec![0u32; n];
    let mut invalid_codes = Vec::with_capacity(catalog.questions().len());
    for (q, answers) in catalog.questions().iter().zip(people.questions()) {
        let mut codes: BTreeMap<i32, u64> = BTreeMap::new();
        let mut total = 0;
        for (p, (&statement, &raw)) in answers.polar.iter().zip(&answers.raw).enumerate() {
            if statement == indievalue_catalog::NO_ANSWER {
                *codes.entry(raw).or_default() += 1;
                total += 1;
            } else {
                valid[p] += 1;
            }
        }
        invalid_codes.push(InvalidCodes {
            question: q.id().to_string(),
            total,
            codes,
        });
    }
    let valid_answers: u64 = valid.iter().map(|&v| u64::from(v)).sum();
    let mean = if n > 0 {
        valid_answers as f64 / n as f64
    } else {
        0.0
    };
    let sd = if n > 0 {
        (valid
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt()
    } else {
        0.0
    };
    let nq = catalog.questions().len() as u32;
    let people_all = valid.iter().filter(|&&v| v == nq).count() as u64;
    let mut demo_valid = 0u64;
    for d in people.demographics() {
        demo_valid += d
            .option
            .iter()
            .filter(|&&o| o != indievalue_catalog::NO_OPTION)
            .count() as u64;
    }
    let mut per_continent: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(item) = catalog.demographic_index(COUNTRY_ITEM) {
        for &code in &people.demographic(item).raw {
            let name = catalog
                .continent_of_country(code.into())
                .map_or("unknown", Continent::name);
            *per_continent.entry(name.to_owned()).or_default() += 1;
        }
    }
    ConversionReport {
        format: REPORT_FORMAT.into(),
        source: path.display().to_string(),
        catalog_hash: catalog.content_hash().to_owned(),
        written_by: format!("indievalue-convert {}", env!("CARGO_PKG_VERSION")),
        rows_read,
        people: n as u64,
        duplicates_dropped,
        truncated_last_line,
        last_line_unterminated: false,
        valid_answers,
        valid_per_person_mean: mean,
        valid_per_person_sd: sd,
        people_all_253: people_all,
        questions: catalog.questions().len(),
        valid_demographics_mean: if n > 0 {
            demo_valid as f64 / n as f64
        } else {
            0.0
        },
        per_continent,
        invalid_codes,
    }
}

/// Writes a dataset directory: [`RESPONDENTS_FILE`] and [`REPORT_FILE`], each to a temporary
/// name renamed when complete, the report last, so a directory with a report is complete.
pub fn write_dataset(
    catalog: &Catalog,
    conversion: &Conversion,
    dir: impl AsRef<Path>,
) -> Result<()> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let report_path = dir.join(REPORT_FILE);
    // A stale report would make a half-written directory look complete.
    match std::fs::remove_file(&report_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                path: report_path,
                source,
            });
        }
    }
    conversion
        .respondents
        .write_parquet(catalog, dir.join(RESPONDENTS_FILE))?;
    write_json_atomic(&report_path, &conversion.report)
}

/// Reads a dataset directory's report.
pub fn read_report(dir: impl AsRef<Path>) -> Result<ConversionReport> {
    let path = dir.as_ref().join(REPORT_FILE);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path, source })
}

/// Writes `value` as pretty JSON to a temporary sibling of `path`, syncs it, then renames it.
pub fn write_json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    indievalue_catalog::storage::write_atomic(path, &json).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
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
