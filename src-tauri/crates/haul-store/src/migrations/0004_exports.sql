-- Exports: one row per job, written before each step acts, so a killed process can carry on where it was.
-- No secrets here: auth settings name the key (kid) and client, never the key or a token.
CREATE TABLE exports (
    id                INTEGER PRIMARY KEY,
    server_id         INTEGER REFERENCES servers (id) ON DELETE SET NULL,
    fhir_url          TEXT NOT NULL,
    level             TEXT NOT NULL CHECK (level IN ('system', 'patient', 'group')),
    group_id          TEXT,
    -- The request as asked (ExportRequest JSON) and how to run it (JobSettings JSON).
    request_json      TEXT NOT NULL,
    settings_json     TEXT NOT NULL,
    -- Types asked for, sorted and comma-joined: the key `--since auto` matches on.
    types_key         TEXT NOT NULL DEFAULT '',
    out_dir           TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('created', 'kicked_off', 'downloading', 'completed',
                          'completed_with_problems', 'failed', 'cancelled')),
    status_url        TEXT,
    progress          TEXT,
    manifest_json     TEXT,
    transaction_time  TEXT,
    expires           TEXT,
    problems_json     TEXT NOT NULL DEFAULT '[]',
    error_kind        TEXT,
    error_message     TEXT,
    error_detail      TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kicked_off_at     TEXT,
    completed_at      TEXT,
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX exports_by_request ON exports (fhir_url, level, group_id, types_key, state);

-- Every file of the manifest (output, error, deleted) in manifest order.
CREATE TABLE export_files (
    export_id       INTEGER NOT NULL REFERENCES exports (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('output', 'error', 'deleted')),
    resource_type   TEXT NOT NULL,
    url             TEXT NOT NULL,
    -- Where it goes, relative to the export folder (Type.NNN.ndjson, error/…, deleted/…).
    name            TEXT NOT NULL,
    expected_count  INTEGER,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'downloading', 'downloaded', 'verified', 'failed')),
    bytes_done      INTEGER NOT NULL DEFAULT 0,
    resources       INTEGER,
    bad_lines       INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    PRIMARY KEY (export_id, seq)
);
