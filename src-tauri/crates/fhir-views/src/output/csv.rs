//! CSV as RFC 4180 says (quotes where needed, CRLF line ends), UTF-8, optionally with the byte-order mark
//! Excel needs to read UTF-8; dates ISO as written, lists as JSON text.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{OutputError, RowBlock, TableFile};
use crate::view::ColumnSpec;

pub struct CsvFile {
    writer: csv::Writer<BufWriter<File>>,
}

impl CsvFile {
    pub fn create(path: &Path, columns: &[ColumnSpec], bom: bool) -> Result<CsvFile, OutputError> {
        let io = |source| OutputError::Io { path: path.display().to_string(), source };
        let mut file = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
        if bom {
            file.write_all("\u{feff}".as_bytes()).map_err(io)?;
        }
        let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(file);
        writer.write_record(columns.iter().map(|c| c.name.as_str())).map_err(|e| OutputError::Csv(e.to_string()))?;
        Ok(CsvFile { writer })
    }
}

impl TableFile for CsvFile {
    fn write(&mut self, block: &RowBlock) -> Result<(), OutputError> {
        for row in &block.rows {
            self.writer.write_record(row.iter().map(|v| v.text())).map_err(|e| OutputError::Csv(e.to_string()))?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>, OutputError> {
        let mut inner = self.writer.into_inner().map_err(|e| OutputError::Csv(e.to_string()))?;
        inner.flush().map_err(|e| OutputError::Csv(e.to_string()))?;
        inner.get_ref().sync_all().map_err(|e| OutputError::Csv(e.to_string()))?;
        Ok(Vec::new())
    }
}
