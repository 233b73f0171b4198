//! Excel workbooks: a header row that stays in place, numbers as numbers, booleans as booleans, full dates
//! as dates, dateTimes as date-times (UTC); a view past Excel's 1,048,576 rows goes on to further sheets.
//! Sheets are written in rust_xlsxwriter's constant-memory mode (rows go to a temporary file).

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::{OutValue, OutputError, RowBlock, TableFile};
use crate::temporal::Temporal;
use crate::view::ColumnSpec;

/// Excel's rows per sheet, the header included.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;

pub struct XlsxFile {
    workbook: Workbook,
    path: std::path::PathBuf,
    base_name: String,
    headers: Vec<String>,
    sheets: usize,
    /// The next row to write on the current sheet.
    row: u32,
    rows_per_sheet: u32,
    date: Format,
    date_time: Format,
    header: Format,
}

fn excel(e: XlsxError) -> OutputError {
    OutputError::Excel(e.to_string())
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(base: &str, n: usize) -> String {
    let clean: String = base.chars().map(|c| if "[]:*?/\\".contains(c) { '_' } else { c }).collect();
    let suffix = if n == 1 { String::new() } else { format!(" ({n})") };
    let keep = 31 - suffix.chars().count();
    format!("{}{suffix}", clean.chars().take(keep).collect::<String>())
}

fn excel_date(t: &Temporal) -> Option<ExcelDateTime> {
    if t.precision <= 3 {
        return ExcelDateTime::from_ymd(u16::try_from(t.parts[0]).ok()?, t.parts[1] as u8, t.parts[2] as u8).ok();
    }
    // Shown in UTC: the offset is applied through the epoch.
    let ms = t.epoch_millis();
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let in_day = ms.rem_euclid(86_400_000);
    ExcelDateTime::from_ymd(u16::try_from(y).ok()?, m, d)
        .ok()?
        .and_hms_milli(
            (in_day / 3_600_000) as u16,
            (in_day / 60_000 % 60) as u8,
            (in_day / 1000 % 60) as u8,
            (in_day % 1000) as u16,
        )
        .ok()
}

/// Howard Hinnant's civil_from_days.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl XlsxFile {
    pub fn create(path: &Path, view_name: &str, columns: &[ColumnSpec]) -> Result<XlsxFile, OutputError> {
        Self::with_rows_per_sheet(path, view_name, columns, EXCEL_MAX_ROWS)
    }

    /// `rows_per_sheet` below Excel's limit is for tests of the split.
    pub fn with_rows_per_sheet(
        path: &Path,
        view_name: &str,
        columns: &[ColumnSpec],
        rows_per_sheet: u32,
    ) -> Result<XlsxFile, OutputError> {
        let mut workbook = Workbook::new();
        if let Some(dir) = path.parent() {
            workbook.set_tempdir(dir).map_err(excel)?;
        }
        let mut file = XlsxFile {
            workbook,
            path: path.to_path_buf(),
            base_name: view_name.to_string(),
            headers: columns.iter().map(|c| c.name.clone()).collect(),
            sheets: 0,
            row: 0,
            rows_per_sheet: rows_per_sheet.clamp(2, EXCEL_MAX_ROWS),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            date_time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            header: Format::new().set_bold(),
        };
        file.new_sheet()?;
        Ok(file)
    }

    fn new_sheet(&mut self) -> Result<(), OutputError> {
        self.sheets += 1;
        let name = sheet_name(&self.base_name, self.sheets);
        let header = self.header.clone();
        let headers = self.headers.clone();
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        sheet.set_name(name).map_err(excel)?;
        sheet.set_freeze_panes(1, 0).map_err(excel)?;
        for (c, h) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, h, &header).map_err(excel)?;
        }
        self.row = 1;
        Ok(())
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, OutputError> {
        let n = self.sheets;
        self.workbook.worksheet_from_index(n - 1).map_err(excel)
    }
}

impl TableFile for XlsxFile {
    fn write(&mut self, block: &RowBlock) -> Result<(), OutputError> {
        for values in &block.rows {
            if self.row >= self.rows_per_sheet {
                self.new_sheet()?;
            }
            let (row, date, date_time) = (self.row, self.date.clone(), self.date_time.clone());
            let sheet = self.sheet()?;
            for (c, v) in values.iter().enumerate() {
                let col = c as u16;
                match v {
                    OutValue::Null => {}
                    OutValue::Bool(b) => {
                        sheet.write_boolean(row, col, *b).map_err(excel)?;
                    }
                    OutValue::Int(i) => {
                        sheet.write_number(row, col, *i as f64).map_err(excel)?;
                    }
                    OutValue::Decimal(d) => {
                        sheet.write_number(row, col, d.to_f64()).map_err(excel)?;
                    }
                    OutValue::Temporal(t) if t.is_full_date() || t.precision >= 6 => match excel_date(t) {
                        Some(dt) => {
                            let format = if t.precision <= 3 { &date } else { &date_time };
                            sheet.write_datetime_with_format(row, col, &dt, format).map_err(excel)?;
                        }
                        None => {
                            sheet.write_string(row, col, t.to_string()).map_err(excel)?;
                        }
                    },
                    other => {
                        sheet.write_string(row, col, other.text()).map_err(excel)?;
                    }
                }
            }
            self.row += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<String>, OutputError> {
        let mut this = *self;
        this.workbook.save(&this.path).map_err(excel)?;
        Ok(if this.sheets > 1 {
            vec![format!(
                "more rows than one Excel sheet holds: the workbook has {} sheets of up to {} rows",
                this.sheets,
                this.rows_per_sheet - 1
            )]
        } else {
            Vec::new()
        })
    }
}
