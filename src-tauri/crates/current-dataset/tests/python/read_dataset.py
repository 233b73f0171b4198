"""Interop check: DuckDB and pyarrow read every table of a current dataset, every column of every row.

    python read_dataset.py DATASET_DIR

Prints JSON: per tool, per table, the row count and the number of distinct ids.
"""
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq

folder = sys.argv[1]
out = {"duckdb": {}, "pyarrow": {}}
con = duckdb.connect()
for f in sorted(os.listdir(folder)):
    if not f.endswith(".parquet"):
        continue
    t, path = f[: -len(".parquet")], os.path.join(folder, f)
    # Every column is decoded (to_json of the whole row), not only the row count from the footer.
    rows, ids, width = con.execute(
        f"SELECT count(*), count(DISTINCT id), sum(length(to_json(x))) FROM '{path}' AS x"
    ).fetchone()
    out["duckdb"][t] = {"rows": rows, "ids": ids, "json_bytes": width}
    table = pq.read_table(path)
    out["pyarrow"][t] = {"rows": table.num_rows, "ids": len(set(table.column("id").to_pylist()))}
print(json.dumps(out))
