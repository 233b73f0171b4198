"""Reads Haul's Delta tables back with a reader that is not Haul, for the tests.

    read_tables.py deltalake ROOT TYPE,TYPE,...   the `deltalake` package (delta-rs), local, s3://, az:// or
                                                  gs:// (the tests' environment names the storage server)
    read_tables.py spark ROOT TYPE,TYPE,...       Apache Spark, reading exactly the Parquet files that the
                                                  table's _delta_log lists as live (replayed here, in Python);
                                                  from s3://, the log and those files are fetched with boto3
                                                  first (Spark's s3a connector is a jar these machines lack)

Prints one JSON object: {"tables": {Type: {id: meta.lastUpdated}}, "versions": {Type: version}, "values": {...}}.

    read_tables.py deltalake-rows ROOT VIEW,...   every row of flat tables (views), each value as text
    read_tables.py spark-rows ROOT VIEW,...       (dates and timestamps in ISO form, UTC), sorted: what two
                                                  readers make of the same typed columns, to compare
    read_tables.py set-properties ROOT TYPE,... KEY=VALUE,...
                                                  sets table properties with delta-rs, as a table's owner would
                                                  (`ALTER TABLE … SET TBLPROPERTIES`): a commit of its own
    read_tables.py vacuum-dry-run ROOT TYPE,...   the files delta-rs's own VACUUM would remove from each table
                                                  with no retention ({Type: [file name, ...]}), to compare
    read_tables.py many '[[ENGINE, ROOT, "TYPE,..."], ...]'
                                                  several reads in one process, printed as a JSON list in order:
                                                  Spark's JVM starts once (about 17 s of a test's time each)
"""
import glob
import json
import os
import sys


def last_updated(meta):
    return meta.get("lastUpdated") if meta else None


def storage_options():
    """The storage the tests point Haul at, for delta-rs: S3 from the AWS_* environment; Azurite (whose address
    object_store reads from AZURITE_BLOB_STORAGE_URL itself); GCS from a service account's key file, whose
    gcs_base_url names the test's front, on loopback over plain http."""
    options = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    if os.environ.get("AZURE_STORAGE_USE_EMULATOR"):
        options.update(azure_storage_use_emulator="true", allow_http="true")
    if os.environ.get("GOOGLE_SERVICE_ACCOUNT"):
        options.update(google_service_account=os.environ["GOOGLE_SERVICE_ACCOUNT"], allow_http="true")
    return options


def with_deltalake(root, types):
    from deltalake import DeltaTable

    options = storage_options()
    out = {"tables": {}, "versions": {}, "values": {}}
    for t in types:
        table = DeltaTable(f"{root}/{t}", storage_options=options)
        rows = table.to_pyarrow_table().to_pylist()
        out["tables"][t] = {r["id"]: last_updated(r.get("meta")) for r in rows}
        out["versions"][t] = table.version()
        if t == "Patient":
            out["values"][t] = {r["id"]: r.get("gender") for r in rows}
    return out


def live_files(table):
    """The protocol's own rule: replay every commit in order; a remove cancels an add."""
    files = {}
    for commit in sorted(glob.glob(os.path.join(table, "_delta_log", "*.json"))):
        with open(commit) as f:
            for line in f:
                if not line.strip():
                    continue
                action = json.loads(line)
                if "add" in action:
                    files[action["add"]["path"]] = True
                elif "remove" in action:
                    files.pop(action["remove"]["path"], None)
    return [os.path.join(table, p) for p in files]


def fetched_from_s3(root, tables, into):
    """The tables' logs and live files under s3://bucket/prefix, copied to a local folder as they are."""
    import boto3

    bucket, _, prefix = root[len("s3://"):].partition("/")
    s3 = boto3.client("s3")
    for t in tables:
        key = f"{prefix}/{t}".strip("/")
        log = os.path.join(into, t, "_delta_log")
        os.makedirs(log, exist_ok=True)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{key}/_delta_log/")
        for page in pages:
            for o in page.get("Contents", []):
                if o["Key"].endswith(".json"):
                    s3.download_file(bucket, o["Key"], os.path.join(log, os.path.basename(o["Key"])))
        for path in live_files(os.path.join(into, t)):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, f"{key}/{os.path.relpath(path, os.path.join(into, t))}", path)
    return into


_spark = None


def spark_session():
    """A one-thread local Spark in UTC, quiet, small; one per process, stopped when the process ends."""
    global _spark
    if _spark is not None:
        return _spark
    from pyspark.sql import SparkSession

    _spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def with_spark(root, types):
    if root.startswith("s3://"):
        import tempfile

        with tempfile.TemporaryDirectory() as local:
            return with_spark(fetched_from_s3(root, types, local), types)
    spark = spark_session()
    out = {"tables": {}, "versions": {}, "values": {}}
    for t in types:
        files = live_files(os.path.join(root, t))
        if not files:
            out["tables"][t] = {}
            continue
        df = spark.read.parquet(*files)
        out["tables"][t] = {r["id"]: r["lastUpdated"] for r in df.select("id", "meta.lastUpdated").collect()}
        if t == "Patient":
            out["values"][t] = {r["id"]: r["gender"] for r in df.select("id", "gender").collect()}
    return out


def as_text(value):
    """One value as text, the same whichever reader gave it."""
    import datetime
    import decimal

    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value.normalize())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=as_text)
    return str(value)


def sorted_rows(rows):
    rows = [{k: as_text(v) for k, v in r.items()} for r in rows]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))


def rows_with_deltalake(root, views):
    from deltalake import DeltaTable

    options = storage_options()
    return {"rows": {v: sorted_rows(DeltaTable(f"{root}/{v}", storage_options=options).to_pyarrow_table().to_pylist())
                     for v in views}}


def rows_with_spark(root, views):
    spark = spark_session()
    out = {"rows": {}, "types": {}}
    for v in views:
        df = spark.read.parquet(*live_files(os.path.join(root, v)))
        out["types"][v] = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        out["rows"][v] = sorted_rows(r.asDict(recursive=True) for r in df.collect())
    return out


def set_properties(root, types, properties):
    from deltalake import DeltaTable

    options = storage_options()
    pairs = dict(p.split("=", 1) for p in properties.split(","))
    for t in types:
        DeltaTable(f"{root}/{t}", storage_options=options).alter.set_table_properties(pairs)
    return {"versions": {t: DeltaTable(f"{root}/{t}", storage_options=options).version() for t in types}}


def vacuum_dry_run(root, types):
    """The files delta-rs's own VACUUM would remove from each table with no retention, by name."""
    from deltalake import DeltaTable

    options = storage_options()
    out = {}
    for t in types:
        table = DeltaTable(f"{root}/{t}", storage_options=options)
        files = table.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
        out[t] = sorted(f.rsplit("/", 1)[-1] for f in files)
    return out


READERS = {"deltalake": with_deltalake, "spark": with_spark,
           "deltalake-rows": rows_with_deltalake, "spark-rows": rows_with_spark,
           "vacuum-dry-run": vacuum_dry_run}


if __name__ == "__main__":
    if sys.argv[1] == "many":
        result = [READERS[engine](root, types.split(",")) for engine, root, types in json.loads(sys.argv[2])]
    elif sys.argv[1] == "set-properties":
        result = set_properties(sys.argv[2], sys.argv[3].split(","), sys.argv[4])
    else:
        result = READERS[sys.argv[1]](sys.argv[2], sys.argv[3].split(","))
    print(json.dumps(result))
    sys.stdout.flush()
    if _spark is not None:
        _spark.stop()
    # Skip the interpreter's teardown: delta-rs's runtime threads and pyarrow can abort the process there
    # ("terminate called without an active exception", delta-io/delta-rs#2184), after the work is done.
    os._exit(0)
