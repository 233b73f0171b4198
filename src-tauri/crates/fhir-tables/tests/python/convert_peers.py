"""The peers of `haul convert` in the benchmark: DuckDB and pyarrow, as analysts use them.

    python convert_peers.py duckdb|pyarrow INPUT_DIR OUT_DIR THREADS

Converts every INPUT_DIR/<Type>.ndjson to OUT_DIR/<Type>.parquet (zstd) and prints, as JSON,
the rows each table holds or the error the tool raised.
"""
import json
import os
import sys

tool, inp, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(out, exist_ok=True)
files = sorted(f for f in os.listdir(inp) if f.endswith(".ndjson"))
result = {}
if tool == "duckdb":
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    for f in files:
        t = f.split(".")[0]
        target = os.path.join(out, f"{t}.parquet")
        try:
            con.execute(
                f"COPY (SELECT * FROM read_ndjson_auto('{os.path.join(inp, f)}')) "
                f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
            )
            result[t] = con.execute(f"SELECT count(*) FROM '{target}'").fetchone()[0]
        except Exception as e:  # noqa: BLE001 - the benchmark reports what the tool said
            result[t] = f"error: {str(e).splitlines()[0][:200]}"
elif tool == "pyarrow":
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    for f in files:
        t = f.split(".")[0]
        target = os.path.join(out, f"{t}.parquet")
        try:
            table = pj.read_json(os.path.join(inp, f))
            pq.write_table(table, target, compression="zstd")
            result[t] = pq.read_metadata(target).num_rows
            del table
        except Exception as e:  # noqa: BLE001
            result[t] = f"error: {str(e).splitlines()[0][:200]}"
else:
    sys.exit(f"unknown tool {tool}")
print(json.dumps(result))
