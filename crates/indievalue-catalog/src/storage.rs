//! Respondents' answers in memory ([`Respondents`]) and on disk (Arrow schema, Parquet files).
//!
//! The on-disk layout is one row per person and, per value question `Q`, the columns `Q_code`
//! (raw survey code, Int32), `Q_polar` and `Q_refined` (statement index, UInt8, null for no valid
//! answer); per demographic item `D`, `D_code` (Int32), `D_option` (option index, UInt16, null for
//! no valid answer) and `D_text` (the identity-declaring statement, dictionary-encoded, null for no
//! valid answer). Leading columns: the survey's id column (`D_INTERVIEW` on the WVS; Int64),
//! `valid_answers` (UInt16) and
//! `valid_demographics` (UInt8). The file's key-value metadata holds the catalog's content hash
//! under [`META_CATALOG_HASH`] and the format under [`META_FORMAT`]. Files are zstd-compressed.

use crate::{Catalog, Error, Granularity, Result};
use arrow::array::{
    Array, ArrayRef, DictionaryArray, Int32Array, Int64Array, RecordBatch, StringArray, UInt8Array,
    UInt16Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema, UInt16Type};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Sentinel for "no valid answer" in statement-index columns held in memory.
pub const NO_ANSWER: u8 = u8::MAX;
/// Sentinel for "no valid answer" in demographic option columns held in memory.
pub const NO_OPTION: u16 = u16::MAX;
/// Key of the catalog content hash in a respondents file's metadata.
pub const META_CATALOG_HASH: &str = "indievalue.catalog_hash";
/// Key of the format tag in a respondents file's metadata.
pub const META_FORMAT: &str = "indievalue.format";
/// The current format tag.
pub const FORMAT: &str = "indievalue-respondents/1";

const ROWS_PER_BATCH: usize = 8_192;
const ROWS_PER_GROUP: usize = 256 * 1024;

/// The answers of all people to one value question.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuestionAnswers {
    /// Raw survey codes, one per person.
    pub raw: Vec<i32>,
    /// Polar statement index per person, [`NO_ANSWER`] when the code is no valid answer.
    pub polar: Vec<u8>,
    /// Refined statement index per person, [`NO_ANSWER`] when the code is no valid answer.
    pub refined: Vec<u8>,
}

impl QuestionAnswers {
    /// Statement indices at a granularity.
    pub fn at(&self, granularity: Granularity) -> &[u8] {
        match granularity {
            Granularity::Polar => &self.polar,
            Granularity::Refined => &self.refined,
        }
    }
}

/// The answers of all people to one demographic item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemographicAnswers {
    /// Raw survey codes, one per person.
    pub raw: Vec<i32>,
    /// Option index per person, [`NO_OPTION`] when the code is no valid answer.
    pub option: Vec<u16>,
}

/// A people x questions table of answers, tied to the catalog it was built with.
///
/// ```
/// use indievalue_catalog::{Catalog, Granularity, Respondents};
/// use indievalue_testdata::mini_catalog_dir;
/// let catalog = Catalog::load(mini_catalog_dir())?;
/// let q = catalog.questions().len();
/// let d = catalog.demographics().len();
/// // Two people: the first answers code 1 everywhere, the second -1 (don't know).
/// let raw_answers = vec![vec![1, -1]; q];
/// let raw_demographics = vec![vec![1, -2]; d];
/// let people = Respondents::from_raw(&catalog, vec![10, 11], raw_answers, raw_demographics)?;
/// assert_eq!(people.len(), 2);
/// assert!(people.answer(0, 0, Granularity::Polar).is_some());
/// assert_eq!(people.answer(1, 0, Granularity::Polar), None);
/// assert_eq!(people.valid_answers(1), 0);
/// # Ok::<(), indievalue_catalog::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respondents {
    catalog_hash: String,
    ids: Vec<i64>,
    questions: Vec<QuestionAnswers>,
    demographics: Vec<DemographicAnswers>,
}

/// The row of each person of a [`Respondents`] table, by `D_INTERVIEW` id
/// ([`Respondents::row_lookup`]).
#[derive(Debug, Clone)]
pub struct RowLookup {
    rows: std::collections::HashMap<i64, usize>,
}

impl RowLookup {
    /// The row of person `id`, if the table has them.
    pub fn row(&self, id: i64) -> Option<usize> {
        self.rows.get(&id).copied()
    }
}

impl Respondents {
    /// A lookup from person id to row (built once; ids are unique in a table).
    ///
    /// ```
    /// # use indievalue_catalog::{Catalog, Respondents};
    /// # let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir())?;
    /// # let q = catalog.questions().len();
    /// let people = Respondents::from_raw(&catalog, vec![7, 9], vec![vec![1, 2]; q],
    ///     vec![vec![1, 1]; catalog.demographics().len()])?;
    /// let rows = people.row_lookup();
    /// assert_eq!((rows.row(9), rows.row(8)), (Some(1), None));
    /// # Ok::<(), indievalue_catalog::Error>(())
    /// ```
    pub fn row_lookup(&self) -> RowLookup {
        RowLookup {
            rows: self
                .ids
                .iter()
                .enumerate()
                .map(|(r, &id)| (id, r))
                .collect(),
        }
    }

    /// Builds the table from raw codes (one vector per question and per demographic item, in
    /// catalog order, each with one code per person), mapping codes through the catalog.
    pub fn from_raw(
        catalog: &Catalog,
        ids: Vec<i64>,
        raw_answers: Vec<Vec<i32>>,
        raw_demographics: Vec<Vec<i32>>,
    ) -> Result<Respondents> {
        if raw_answers.len() != catalog.questions().len() {
            return Err(Error::Respondents(format!(
                "{} answer columns for {} questions",
                raw_answers.len(),
                catalog.questions().len()
            )));
        }
        if raw_demographics.len() != catalog.demographics().len() {
            return Err(Error::Respondents(format!(
                "{} demographic columns for {} items",
                raw_demographics.len(),
                catalog.demographics().len()
            )));
        }
        let questions = raw_answers
            .into_par_iter()
            .zip(catalog.questions().par_iter())
            .map(|(raw, q)| {
                let map = |g: Granularity| {
                    let set = q.statements(g);
                    raw.iter()
                        .map(|&c| set.statement_for_code(c.into()).unwrap_or(NO_ANSWER))
                        .collect()
                };
                QuestionAnswers {
                    polar: map(Granularity::Polar),
                    refined: map(Granularity::Refined),
                    raw,
                }
            })
            .collect();
        let demographics = raw_demographics
            .into_par_iter()
            .zip(catalog.demographics().par_iter())
            .map(|(raw, d)| DemographicAnswers {
                option: raw
                    .iter()
                    .map(|&c| d.option_for_code(c.into()).unwrap_or(NO_OPTION))
                    .collect(),
                raw,
            })
            .collect();
        Respondents::from_parts(catalog, ids, questions, demographics)
    }

    /// Assembles the table from already mapped columns, checking lengths and indices against the
    /// catalog.
    pub fn from_parts(
        catalog: &Catalog,
        ids: Vec<i64>,
        questions: Vec<QuestionAnswers>,
        demographics: Vec<DemographicAnswers>,
    ) -> Result<Respondents> {
        let n = ids.len();
        if questions.len() != catalog.questions().len()
            || demographics.len() != catalog.demographics().len()
        {
            return Err(Error::Respondents(format!(
                "{} question and {} demographic columns for a catalog of {} and {}",
                questions.len(),
                demographics.len(),
                catalog.questions().len(),
                catalog.demographics().len()
            )));
        }
        questions
            .par_iter()
            .zip(catalog.questions().par_iter())
            .try_for_each(|(qa, q)| -> Result<()> {
                if qa.raw.len() != n || qa.polar.len() != n || qa.refined.len() != n {
                    return Err(Error::Respondents(format!(
                        "question {}: columns of length {}/{}/{} for {n} people",
                        q.id(),
                        qa.raw.len(),
                        qa.polar.len(),
                        qa.refined.len()
                    )));
                }
                for g in Granularity::ALL {
                    let options = q.statements(g).len();
                    if let Some(&bad) = qa
                        .at(g)
                        .iter()
                        .find(|&&v| v != NO_ANSWER && v as usize >= options)
                    {
                        return Err(Error::Respondents(format!(
                            "question {}: {g} statement index {bad} out of range (has {options})",
                            q.id()
                        )));
                    }
                }
                Ok(())
            })?;
        for (da, d) in demographics.iter().zip(catalog.demographics()) {
            if da.raw.len() != n || da.option.len() != n {
                return Err(Error::Respondents(format!(
                    "demographic {}: columns of length {}/{} for {n} people",
                    d.id(),
                    da.raw.len(),
                    da.option.len()
                )));
            }
            if let Some(&bad) = da
                .option
                .iter()
                .find(|&&v| v != NO_OPTION && v as usize >= d.options().len())
            {
                return Err(Error::Respondents(format!(
                    "demographic {}: option {bad} out of range",
                    d.id()
                )));
            }
        }
        Ok(Respondents {
            catalog_hash: catalog.content_hash().to_owned(),
            ids,
            questions,
            demographics,
        })
    }

    /// Number of people.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there is nobody.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Person ids (`D_INTERVIEW`), in row order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Content hash of the catalog the table was built with.
    pub fn catalog_hash(&self) -> &str {
        &self.catalog_hash
    }

    /// All answers to question `question` (catalog position).
    pub fn question(&self, question: usize) -> &QuestionAnswers {
        &self.questions[question]
    }

    /// All question columns, in catalog order.
    pub fn questions(&self) -> &[QuestionAnswers] {
        &self.questions
    }

    /// All answers to demographic item `item` (catalog position).
    pub fn demographic(&self, item: usize) -> &DemographicAnswers {
        &self.demographics[item]
    }

    /// All demographic columns, in catalog order.
    pub fn demographics(&self) -> &[DemographicAnswers] {
        &self.demographics
    }

    /// The statement index person `person` chose for question `question`, if valid.
    #[inline]
    pub fn answer(&self, person: usize, question: usize, granularity: Granularity) -> Option<u8> {
        let v = self.questions[question].at(granularity)[person];
        (v != NO_ANSWER).then_some(v)
    }

    /// The demographic option of a person, if valid.
    #[inline]
    pub fn demographic_option(&self, person: usize, item: usize) -> Option<u16> {
        let v = self.demographics[item].option[person];
        (v != NO_OPTION).then_some(v)
    }

    /// Number of valid value answers of a person.
    pub fn valid_answers(&self, person: usize) -> usize {
        self.questions
            .iter()
            .filter(|q| q.polar[person] != NO_ANSWER)
            .count()
    }

    /// Number of valid demographic answers of a person.
    pub fn valid_demographics(&self, person: usize) -> usize {
        self.demographics
            .iter()
            .filter(|d| d.option[person] != NO_OPTION)
            .count()
    }

    /// The group of a person on a demographic item (a position in
    /// [`Demographic::groups`](crate::Demographic::groups)), `None` without a valid answer.
    pub fn group_of(&self, catalog: &Catalog, item: usize, person: usize) -> Option<usize> {
        self.demographic_option(person, item)
            .map(|o| catalog.demographics()[item].group_of_option(o))
    }

    /// The Arrow schema of a respondents file for a catalog (see the module docs).
    pub fn arrow_schema(catalog: &Catalog) -> Schema {
        let mut fields = vec![
            Field::new(&catalog.survey().id_column, DataType::Int64, false),
            Field::new("valid_answers", DataType::UInt16, false),
            Field::new("valid_demographics", DataType::UInt8, false),
        ];
        for q in catalog.questions() {
            fields.push(Field::new(
                format!("{}_code", q.id()),
                DataType::Int32,
                false,
            ));
            fields.push(Field::new(
                format!("{}_polar", q.id()),
                DataType::UInt8,
                true,
            ));
            fields.push(Field::new(
                format!("{}_refined", q.id()),
                DataType::UInt8,
                true,
            ));
        }
        for d in catalog.demographics() {
            fields.push(Field::new(
                format!("{}_code", d.id()),
                DataType::Int32,
                false,
            ));
            fields.push(Field::new(
                format!("{}_option", d.id()),
                DataType::UInt16,
                true,
            ));
            fields.push(Field::new(
                format!("{}_text", d.id()),
                DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8)),
                true,
            ));
        }
        let metadata = HashMap::from([
            (
                META_CATALOG_HASH.to_owned(),
                catalog.content_hash().to_owned(),
            ),
            (META_FORMAT.to_owned(), FORMAT.to_owned()),
        ]);
        Schema::new_with_metadata(fields, metadata)
    }

    fn check_catalog(&self, catalog: &Catalog) -> Result<()> {
        if self.catalog_hash != catalog.content_hash() {
            return Err(Error::Respondents(format!(
                "built for catalog {}, not {}",
                self.catalog_hash,
                catalog.content_hash()
            )));
        }
        Ok(())
    }

    /// Column `column` of the file schema (see the module docs) for rows `start..end`.
    fn column_array(
        &self,
        catalog: &Catalog,
        column: usize,
        counts: (&[u16], &[u8]),
        start: usize,
        end: usize,
    ) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
        let nq = self.questions.len();
        Ok(match column {
            0 => Arc::new(Int64Array::from(self.ids[start..end].to_vec())),
            1 => Arc::new(UInt16Array::from(counts.0[start..end].to_vec())),
            2 => Arc::new(UInt8Array::from(counts.1[start..end].to_vec())),
            c if c < 3 + 3 * nq => {
                let q = &self.questions[(c - 3) / 3];
                let statements = match (c - 3) % 3 {
                    0 => return Ok(Arc::new(Int32Array::from(q.raw[start..end].to_vec()))),
                    1 => &q.polar[start..end],
                    _ => &q.refined[start..end],
                };
                let valid =
                    BooleanBuffer::collect_bool(statements.len(), |i| statements[i] != NO_ANSWER);
                Arc::new(UInt8Array::new(
                    ScalarBuffer::from(statements.to_vec()),
                    Some(NullBuffer::new(valid)),
                ))
            }
            c => {
                let (d, part) = ((c - 3 - 3 * nq) / 3, (c - 3 - 3 * nq) % 3);
                let da = &self.demographics[d];
                if part == 0 {
                    return Ok(Arc::new(Int32Array::from(da.raw[start..end].to_vec())));
                }
                let options = &da.option[start..end];
                let valid = BooleanBuffer::collect_bool(options.len(), |i| options[i] != NO_OPTION);
                let keys = UInt16Array::new(
                    ScalarBuffer::from(options.to_vec()),
                    Some(NullBuffer::new(valid)),
                );
                if part == 1 {
                    return Ok(Arc::new(keys));
                }
                let values = StringArray::from_iter_values(
                    catalog.demographics()[d]
                        .options()
                        .iter()
                        .map(|o| &o.statement),
                );
                Arc::new(DictionaryArray::<UInt16Type>::try_new(
                    keys,
                    Arc::new(values),
                )?)
            }
        })
    }

    /// Valid demographic answers of every person, counted column by column.
    fn valid_demographic_counts(&self) -> Vec<u8> {
        let mut counts = vec![0u8; self.len()];
        for d in &self.demographics {
            for (c, &v) in counts.iter_mut().zip(&d.option) {
                *c += u8::from(v != NO_OPTION);
            }
        }
        counts
    }

    /// Writes the table as a zstd-compressed Parquet file, to a temporary name beside `path` that is
    /// renamed to `path` only once complete.
    ///
    /// ```
    /// # use indievalue_catalog::{Catalog, Respondents};
    /// # use indievalue_testdata::mini_catalog_dir;
    /// # let catalog = Catalog::load(mini_catalog_dir())?;
    /// # let people = Respondents::from_raw(&catalog, vec![1],
    /// #     vec![vec![2]; catalog.questions().len()], vec![vec![1]; catalog.demographics().len()])?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("respondents.parquet");
    /// people.write_parquet(&catalog, &path)?;
    /// assert_eq!(Respondents::read_parquet(&catalog, &path)?, people);
    /// # Ok::<(), indievalue_catalog::Error>(())
    /// ```
    pub fn write_parquet(&self, catalog: &Catalog, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.check_catalog(catalog)?;
        indievalue_files::write_atomic_try_with(path, |out| {
            self.write_parquet_to(catalog, path, out)
        })
    }

    fn write_parquet_to(
        &self,
        catalog: &Catalog,
        path: &Path,
        out: &mut std::io::BufWriter<std::fs::File>,
    ) -> Result<()> {
        let pq = |source| Error::Parquet {
            path: path.to_owned(),
            source,
        };
        let schema = Arc::new(Respondents::arrow_schema(catalog));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(pq)?))
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(pq)?;
        // Columns are encoded in parallel (one task per column), then appended in order.
        let (mut file_writer, factory) = writer.into_serialized_writer().map_err(pq)?;
        let valid_answers = self.valid_answer_counts();
        let valid_demographics = self.valid_demographic_counts();
        let counts = (valid_answers.as_slice(), valid_demographics.as_slice());
        let mut group_start = 0;
        let mut group = 0;
        while group_start < self.len() {
            let group_end = (group_start + ROWS_PER_GROUP).min(self.len());
            let mut writers = factory.create_column_writers(group).map_err(pq)?;
            // Every column is built and encoded by its own task, in small batches that keep the
            // encoders' scratch memory small and reused. Every field has exactly one leaf.
            let mut start = group_start;
            while start < group_end {
                let end = (start + ROWS_PER_BATCH).min(group_end);
                writers
                    .par_iter_mut()
                    .zip(schema.fields().par_iter())
                    .enumerate()
                    .try_for_each(|(column, (writer, field))| {
                        let array = self
                            .column_array(catalog, column, counts, start, end)
                            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
                        for leaf in compute_leaves(field, &array)? {
                            writer.write(&leaf)?;
                        }
                        Ok(())
                    })
                    .map_err(pq)?;
                start = end;
            }
            let chunks = writers
                .into_par_iter()
                .map(|writer| writer.close())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(pq)?;
            let mut row_group = file_writer.next_row_group().map_err(pq)?;
            for chunk in chunks {
                chunk.append_to_row_group(&mut row_group).map_err(pq)?;
            }
            row_group.close().map_err(pq)?;
            group_start = group_end;
            group += 1;
        }
        // Writes the footer; the file layer flushes, syncs and renames.
        file_writer.into_inner().map_err(pq)?;
        Ok(())
    }

    /// Valid value answers of every person, counted column by column (cache friendly).
    pub fn valid_answer_counts(&self) -> Vec<u16> {
        let mut counts = vec![0u16; self.len()];
        for q in &self.questions {
            for (c, &v) in counts.iter_mut().zip(&q.polar) {
                *c += u16::from(v != NO_ANSWER);
            }
        }
        counts
    }

    /// Reads a respondents file written for `catalog`. A file written for another catalog, or one
    /// lacking a column, is an error naming the file (and column).
    pub fn read_parquet(catalog: &Catalog, path: impl AsRef<Path>) -> Result<Respondents> {
        let path = path.as_ref();
        let pq = |source| Error::Parquet {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
        let found = builder
            .schema()
            .metadata()
            .get(META_CATALOG_HASH)
            .cloned()
            .unwrap_or_else(|| "(none)".to_owned());
        if found != catalog.content_hash() {
            return Err(Error::CatalogMismatch {
                path: path.to_owned(),
                expected: catalog.content_hash().to_owned(),
                found,
            });
        }
        let schema = builder.schema().clone();
        let column = |name: &str, ty: &DataType| -> Result<usize> {
            let index = schema.index_of(name).map_err(|_| Error::Column {
                path: path.to_owned(),
                column: name.to_owned(),
                message: "missing".into(),
            })?;
            let actual = schema.field(index).data_type();
            if actual != ty {
                return Err(Error::Column {
                    path: path.to_owned(),
                    column: name.to_owned(),
                    message: format!("expected {ty}, found {actual}"),
                });
            }
            Ok(index)
        };
        let id_column = catalog.survey().id_column.as_str();
        let id_col = column(id_column, &DataType::Int64)?;
        let mut q_cols = Vec::new();
        for q in catalog.questions() {
            q_cols.push((
                column(&format!("{}_code", q.id()), &DataType::Int32)?,
                column(&format!("{}_polar", q.id()), &DataType::UInt8)?,
                column(&format!("{}_refined", q.id()), &DataType::UInt8)?,
            ));
        }
        let mut d_cols = Vec::new();
        for d in catalog.demographics() {
            d_cols.push((
                column(&format!("{}_code", d.id()), &DataType::Int32)?,
                column(&format!("{}_option", d.id()), &DataType::UInt16)?,
            ));
        }
        let reader = builder
            .with_batch_size(ROWS_PER_BATCH)
            .build()
            .map_err(pq)?;
        let mut ids = Vec::new();
        let mut questions = vec![QuestionAnswers::default(); q_cols.len()];
        let mut demographics = vec![DemographicAnswers::default(); d_cols.len()];
        let downcast_err = |name: String| Error::Column {
            path: path.to_owned(),
            column: name,
            message: "unexpected array type".into(),
        };
        for batch in reader {
            let batch = batch.map_err(|source| Error::Arrow {
                path: path.to_owned(),
                source,
            })?;
            let ids_array = batch
                .column(id_col)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| downcast_err(id_column.into()))?;
            ids.extend_from_slice(ids_array.values());
            for ((code, polar, refined), out) in q_cols.iter().zip(questions.iter_mut()) {
                extend_i32(&batch, *code, &mut out.raw)
                    .ok_or_else(|| downcast_err("code".into()))?;
                extend_u8(&batch, *polar, &mut out.polar)
                    .ok_or_else(|| downcast_err("polar".into()))?;
                extend_u8(&batch, *refined, &mut out.refined)
                    .ok_or_else(|| downcast_err("refined".into()))?;
            }
            for ((code, option), out) in d_cols.iter().zip(demographics.iter_mut()) {
                extend_i32(&batch, *code, &mut out.raw)
                    .ok_or_else(|| downcast_err("code".into()))?;
                let a = batch
                    .column(*option)
                    .as_any()
                    .downcast_ref::<UInt16Array>()
                    .ok_or_else(|| downcast_err("option".into()))?;
                out.option.extend(a.iter().map(|v| v.unwrap_or(NO_OPTION)));
            }
        }
        Respondents::from_parts(catalog, ids, questions, demographics).map_err(|e| Error::Column {
            path: path.to_owned(),
            column: "(all)".into(),
            message: e.to_string(),
        })
    }
}

fn extend_i32(batch: &RecordBatch, col: usize, out: &mut Vec<i32>) -> Option<()> {
    let a = batch.column(col).as_any().downcast_ref::<Int32Array>()?;
    out.extend_from_slice(a.values());
    Some(())
}

fn extend_u8(batch: &RecordBatch, col: usize, out: &mut Vec<u8>) -> Option<()> {
    let a = batch.column(col).as_any().downcast_ref::<UInt8Array>()?;
    if a.null_count() == 0 {
        out.extend_from_slice(a.values());
    } else {
        out.extend(a.iter().map(|v| v.unwrap_or(NO_ANSWER)));
    }
    Some(())
}
