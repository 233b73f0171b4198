//! Parquet with flat, typed columns: dates as DATE, dateTimes as UTC timestamps, decimals as DECIMAL(38,18)
//! (exact for every FHIR decimal, which has at most 18 significant digits), `collection` columns as lists.
//! The batches come built ([`super::batch`]); row groups are encoded on every core by fhir-tables' writer.

use std::fs::File;
use std::path::Path;

use fhir_tables::table_writer::TableWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::batch::schema;
use super::{OutputError, RowBlock, TableFile};
use crate::kept::Following;
use crate::view::ColumnSpec;

pub struct ParquetFile {
    writer: TableWriter,
    /// For a view kept current over a table: its row groups follow the table's ([`crate::kept`]).
    following: Option<Following>,
    names: Vec<String>,
    /// Per column: values left empty, and the first of them.
    misfits: Vec<(u64, String)>,
}

fn parquet_error(e: parquet::errors::ParquetError) -> OutputError {
    OutputError::Parquet(e.to_string())
}

impl ParquetFile {
    pub fn create(
        path: &Path,
        columns: &[ColumnSpec],
        row_group_bytes: usize,
        threads: usize,
        following: Option<Following>,
    ) -> Result<ParquetFile, OutputError> {
        let file = File::create(path).map_err(|source| OutputError::Io { path: path.display().to_string(), source })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("level 3")))
            .set_max_row_group_row_count(None)
            .set_created_by(format!("Haul {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = TableWriter::new(file, schema(columns), props, row_group_bytes, threads).map_err(parquet_error)?;
        Ok(ParquetFile {
            writer,
            following,
            names: columns.iter().map(|c| c.name.clone()).collect(),
            misfits: vec![(0, String::new()); columns.len()],
        })
    }
}

impl TableFile for ParquetFile {
    fn write(&mut self, block: &RowBlock) -> Result<(), OutputError> {
        let Some((batch, misfits)) = &block.batch else {
            return Err(OutputError::Parquet("rows came without their Arrow batch".into()));
        };
        for (col, n, example) in misfits {
            let seen = &mut self.misfits[*col];
            if seen.0 == 0 {
                seen.1 = example.clone();
            }
            seen.0 += n;
        }
        self.writer.write(batch.clone()).map_err(parquet_error)
    }

    fn start_source(&mut self, source: usize) -> Result<(), OutputError> {
        match &mut self.following {
            Some(f) => f.start(source, &mut self.writer),
            None => Ok(()),
        }
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>, OutputError> {
        let mut this = *self;
        if let Some(f) = &mut this.following {
            f.finish(&mut this.writer)?;
        }
        this.writer.close().map_err(parquet_error)?;
        Ok(this
            .names
            .iter()
            .zip(&this.misfits)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(c, (n, e))| {
                let values = if *n == 1 { "1 value".to_string() } else { format!("{n} values") };
                format!(
                    "{values} of column '{c}' did not fit its type and are empty in the Parquet file \
                     (CSV and Excel keep them as text; e.g. '{e}')"
                )
            })
            .collect())
    }
}
