"""Reads the tables Haul wrote (argv[1]) with csv, DuckDB, openpyxl and pyarrow; prints counts and types as JSON."""
import csv
import datetime
import json
import os
import sys

import duckdb
import openpyxl
import pyarrow.parquet as pq

out = sys.argv[1]
report = {}
for name in sorted({f.split(".")[0] for f in os.listdir(out)}):
    r = {}
    path = os.path.join(out, name)
    with open(path + ".csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    r["csv_module"] = len(rows)
    with open(path + ".csv", "rb") as f:
        r["bom"] = f.read(3) == b"\xef\xbb\xbf"
    r["duckdb_csv"] = duckdb.sql(f"select count(*) from read_csv('{path}.csv', header=true)").fetchall()[0][0]
    wb = openpyxl.load_workbook(path + ".xlsx", read_only=False)
    count = 0
    types = {}
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        r["header_frozen"] = ws.freeze_panes
        for row in ws.iter_rows(min_row=2, values_only=True):
            count += 1
            for h, v in zip(header, row):
                if v is not None and h not in types:
                    types[h] = {datetime.datetime: "datetime", float: "float", int: "float", bool: "bool", str: "str"}[type(v)]
    r["openpyxl"] = count
    r["xlsx_types"] = types
    r["duckdb_parquet"] = duckdb.sql(f"select count(*) from '{path}.parquet'").fetchall()[0][0]
    table = pq.read_table(path + ".parquet")
    r["pyarrow"] = table.num_rows
    r["parquet_types"] = {f.name: str(f.type) for f in table.schema}
    if name == "observation":
        first_xlsx = next(wb.worksheets[0].iter_rows(min_row=2, max_row=2, values_only=True))
        col = [c.value for c in wb.worksheets[0][1]].index("value_number")
        r["first_value_number"] = {
            "parquet": str(table.column("value_number")[0].as_py()),
            "csv": rows[0]["value_number"],
            "xlsx": first_xlsx[col],
        }
    report[name] = r
print(json.dumps(report))
