"""Interop check: DuckDB and pyarrow read the tables Haul wrote.

    python read_parquet.py TABLE_DIR

Prints JSON: per tool, per table, the row count and a few values the Rust test compares with its input.
"""
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq

folder = sys.argv[1]
out = {"duckdb": {}, "pyarrow": {}}
tables = sorted(f[: -len(".parquet")] for f in os.listdir(folder) if f.endswith(".parquet"))
con = duckdb.connect()
for t in tables:
    path = os.path.join(folder, f"{t}.parquet")
    rows = con.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
    first_id = con.execute(f"SELECT id FROM '{path}' LIMIT 1").fetchone()[0]
    out["duckdb"][t] = {"rows": rows, "first_id": first_id}
    table = pq.read_table(path)
    out["pyarrow"][t] = {"rows": table.num_rows, "first_id": table.column("id")[0].as_py()}

obs = os.path.join(folder, "Observation.parquet")
if os.path.exists(obs):
    # Decimals exact, nested structs addressable, UTC timestamps typed.
    r = con.execute(
        f"SELECT id, CAST(valueQuantity.value AS VARCHAR), valueQuantity.unit, code.coding[1].code, "
        f"epoch_ms(issued_utc) FROM '{obs}' WHERE valueQuantity IS NOT NULL LIMIT 1"
    ).fetchone()
    out["duckdb_observation"] = {"id": r[0], "value": r[1], "unit": r[2], "code": r[3], "issued_utc": r[4]}
    t = pq.read_table(obs, columns=["id", "valueQuantity"]).to_pylist()
    first = next(x for x in t if x["valueQuantity"] is not None)
    out["pyarrow_observation"] = {"id": first["id"], "value": str(first["valueQuantity"]["value"])}
print(json.dumps(out))
