-- Storage credentials typed into the app, each for one bucket or container (and what is under it). The
-- secret (an S3 secret access key, an Azure account key or SAS token, a Google service account's key) is in
-- the OS keychain, under `secret_entry`; this row holds only what names and finds it.
CREATE TABLE storage_sign_ins (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('s3', 'azure', 'gcs')),
    -- The S3 access key id, the Azure account name, or the Google service account's e-mail: not secrets.
    key_id        TEXT NOT NULL,
    region        TEXT,
    endpoint      TEXT,
    secret_entry  TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
