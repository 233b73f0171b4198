-- The Parquet schema of each resource type, per server: it only ever widens, so each month's tables
-- append to the last month's in any tool. `shape` is fhir_tables::Shape as JSON (no data values).
CREATE TABLE table_schemas (
    server_key    TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    shape         TEXT NOT NULL,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (server_key, resource_type)
);
