-- Servers the user exports from. Secrets never live here: private keys go to the OS keychain.
CREATE TABLE servers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    base_url    TEXT NOT NULL,
    auth_kind   TEXT NOT NULL CHECK (auth_kind IN ('open', 'smart_backend')),
    client_id   TEXT,
    scope       TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
