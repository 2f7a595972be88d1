//! Cutting the CSV into blocks at line ends outside quotes, so that blocks parse independently.

use std::io::Read;

/// Bytes per parsing block; blocks are cut at line ends and parsed in parallel.
const BLOCK_BYTES: usize = 4 << 20;

/// The input, handed out in blocks that each end at a record boundary.
pub(crate) struct BlockReader<R> {
    reader: R,
    /// Bytes read and not yet handed out; they start at a record boundary.
    pending: Vec<u8>,
    /// The reader is exhausted.
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// A reader over `reader`, nothing read yet.
    pub(crate) fn new(reader: R) -> BlockReader<R> {
        BlockReader {
            reader,
            pending: Vec::with_capacity(BLOCK_BYTES * 2),
            eof: false,
        }
    }

    /// The header line: the bytes up to and including the first line end (all of the input when
    /// it has none).
    pub(crate) fn header_line(&mut self) -> std::io::Result<Vec<u8>> {
        let BlockReader {
            reader,
            pending,
            eof,
        } = self;
        // Header: read until the first line end.
        let header_end = loop {
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                break i + 1;
            }
            if *eof {
                break pending.len();
            }
            *eof = fill(reader, pending, BLOCK_BYTES)?;
        };
        Ok(pending.drain(..header_end).collect())
    }

    /// Up to `workers` blocks of about [`BLOCK_BYTES`], each cut at a line end outside quotes (a
    /// block is longer when one record is); none once the input is used up.
    pub(crate) fn next_blocks(&mut self, workers: usize) -> std::io::Result<Vec<Vec<u8>>> {
        let BlockReader {
            reader,
            pending,
            eof,
        } = self;
        let mut chunk_bufs: Vec<Vec<u8>> = Vec::with_capacity(workers);
        // How much of `pending` to search for a cut; grows when a record is longer than a block.
        let mut window = BLOCK_BYTES;
        while chunk_bufs.len() < workers {
            while !*eof && pending.len() < window {
                // Read just up to the window, so what is left after the cut is at most a record.
                let want = (window - pending.len()).max(1 << 16);
                *eof = fill(reader, pending, want)?;
            }
            if pending.is_empty() {
                break;
            }
            let cut = if *eof && pending.len() <= window {
                pending.len()
            } else {
                match line_cut(&pending[..pending.len().min(window)]) {
                    Some(c) => c,
                    // No record end in the whole window: widen it and read more.
                    None if !*eof => {
                        window = pending.len() + BLOCK_BYTES;
                        continue;
                    }
                    None => pending.len(),
                }
            };
            window = BLOCK_BYTES;
            // The chunk keeps the buffer; only the short remainder is copied.
            let mut chunk = std::mem::take(pending);
            pending.reserve(BLOCK_BYTES + (1 << 16));
            pending.extend_from_slice(&chunk[cut..]);
            chunk.truncate(cut);
            chunk_bufs.push(chunk);
        }
        Ok(chunk_bufs)
    }
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
