//! Writing a synthetic survey in the raw CSV layout of the World Values Survey Wave 7 file, or
//! in the plain layout `convert` reads for a described survey.

use crate::model::home_column;
use crate::{Result, SyntheticModel, SyntheticPerson};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{COUNTRY_ITEM, Catalog};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// What [`SyntheticModel::write_csv`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvSummary {
    /// Data rows written (people plus duplicate rows).
    pub rows: usize,
    /// Duplicate rows among them.
    pub duplicate_rows: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Extra columns that the real file has and the converter must ignore.
const LEADING_EXTRAS: [&str; 4] = ["version", "doi", "A_WAVE", "A_YEAR"];

impl SyntheticModel {
    /// The CSV header. The WVS: a few extra columns, `B_COUNTRY`, `D_INTERVIEW`, the value
    /// questions in catalog order, the remaining demographic columns, and a trailing weight
    /// column. A described survey: its id column, its balance item's column (if any), the value
    /// questions, the remaining demographic columns.
    pub fn csv_header(&self, catalog: &Catalog) -> Vec<String> {
        let survey = catalog.survey();
        let mut h: Vec<String> = Vec::new();
        if survey.described {
            h.push(survey.id_column.clone());
            h.extend(home_column(catalog).map(str::to_owned));
        } else {
            h.extend(LEADING_EXTRAS.iter().map(|s| s.to_string()));
            h.push(COUNTRY_ITEM.into());
            h.push("B_COUNTRY_ALPHA".into());
            h.push("D_INTERVIEW".into());
        }
        h.extend(catalog.questions().iter().map(|q| q.id().to_string()));
        for d in demographic_columns(catalog) {
            h.push(catalog.demographics()[d].column().to_owned());
        }
        if !survey.described {
            h.push("W_WEIGHT".into());
        }
        h
    }

    /// Writes the survey as a raw CSV (comma-separated, quoted text columns, `\n` line ends) to a
    /// temporary sibling of `path`, renamed to `path` when complete.
    pub fn write_csv(&self, catalog: &Catalog, path: impl AsRef<Path>) -> Result<CsvSummary> {
        self.check_catalog(catalog)?;
        let path = path.as_ref();
        Ok(indievalue_files::write_atomic_with(path, |out| {
            self.write_rows(catalog, out)
        })?)
    }

    fn write_rows(&self, catalog: &Catalog, out: &mut impl Write) -> std::io::Result<CsvSummary> {
        let header = self.csv_header(catalog);
        out.write_all(header.join(",").as_bytes())?;
        out.write_all(b"\n")?;
        let demo_cols = demographic_columns(catalog);
        let layout = RowLayout {
            wvs: !catalog.survey().described,
            home: home_column(catalog).is_some(),
        };
        let mut line = Vec::with_capacity(4096);
        let mut rows = 0;
        let mut duplicate_rows = 0;
        let mut bytes = header.join(",").len() as u64 + 1;
        for index in 0..self.config.people {
            let person = self.person(catalog, index);
            self.row(&person, &demo_cols, layout, &mut line);
            out.write_all(&line)?;
            bytes += line.len() as u64;
            rows += 1;
            let mut rng = Rng::derive(self.config.seed, &[label("duplicate"), index as u64]);
            if self.config.duplicate_rate > 0.0 && rng.unit() < self.config.duplicate_rate {
                let mut again = self.draw(catalog, index, label("duplicate-row"));
                again.id = person.id;
                again.country = person.country;
                again.demographics = person.demographics.clone();
                self.row(&again, &demo_cols, layout, &mut line);
                out.write_all(&line)?;
                bytes += line.len() as u64;
                rows += 1;
                duplicate_rows += 1;
            }
        }
        Ok(CsvSummary {
            rows,
            duplicate_rows,
            bytes,
        })
    }

    fn row(
        &self,
        person: &SyntheticPerson,
        demo_cols: &[usize],
        layout: RowLayout,
        line: &mut Vec<u8>,
    ) {
        line.clear();
        let code = self.countries[person.country].code;
        if layout.wvs {
            line.extend_from_slice(b"\"4-0-0 (2022-12-23)\",\"doi.org/10.14281/18241.20\",7,");
            push_int(line, 2017 + (person.id % 6));
            line.push(b',');
            push_int(line, code.into());
            line.extend_from_slice(b",\"C");
            push_int(line, code.into());
            line.extend_from_slice(b"\",");
            push_int(line, person.id);
        } else {
            push_int(line, person.id);
            if layout.home {
                line.push(b',');
                push_int(line, code.into());
            }
        }
        for &a in &person.answers {
            line.push(b',');
            push_int(line, a.into());
        }
        for &d in demo_cols {
            line.push(b',');
            push_int(line, person.demographics[d].into());
        }
        line.extend_from_slice(if layout.wvs { &b",0.8731\n"[..] } else { b"\n" });
    }
}

/// Which columns lead and close a row.
#[derive(Clone, Copy)]
struct RowLayout {
    /// The WVS file's layout (extras, country, weight).
    wvs: bool,
    /// A described survey with a balance item: its column follows the id.
    home: bool,
}

/// Positions of the demographic items that need a column of their own (all but those reading the
/// country column), first occurrence of each column only.
fn demographic_columns(catalog: &Catalog) -> Vec<usize> {
    let mut seen: Vec<&str> = if catalog.survey().described {
        home_column(catalog).into_iter().collect()
    } else {
        vec![COUNTRY_ITEM]
    };
    let mut out = Vec::new();
    for (i, d) in catalog.demographics().iter().enumerate() {
        if !seen.contains(&d.column()) {
            seen.push(d.column());
            out.push(i);
        }
    }
    out
}

/// Appends the decimal form of `v`.
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_int_writes_decimals() {
        let mut v = Vec::new();
        for n in [0i64, 7, -4, 12345, -100, i64::from(i32::MAX)] {
            v.clear();
            push_int(&mut v, n);
            assert_eq!(String::from_utf8(v.clone()).unwrap(), n.to_string());
        }
    }
}
