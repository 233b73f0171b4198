-- Sign-in methods besides SMART Backend Services: a client ID and secret (HTTP Basic or form fields, an
-- optional scope, extra token parameters) and a bearer token given by hand. The secret itself lives only in
-- the OS keychain; `secret_entry` is the name of its keychain entry (NULL: none saved), unique per row so
-- two databases (or a server id used again) never share one.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (the migration runs with
-- foreign keys off, so the rows that refer to servers keep their references).
CREATE TABLE servers_new (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    base_url         TEXT NOT NULL,
    auth_kind        TEXT NOT NULL CHECK (auth_kind IN ('open', 'smart_backend', 'client_secret', 'bearer_token')),
    client_id        TEXT,
    scope            TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    builtin          TEXT CHECK (builtin IN ('demo')),
    key_kid          TEXT REFERENCES keys (kid) ON DELETE SET NULL,
    token_url        TEXT,
    trusted_origins  TEXT NOT NULL DEFAULT '[]',
    -- client_secret_basic or client_secret_post (client-secret sign-in only).
    secret_style     TEXT CHECK (secret_style IN ('basic', 'post')),
    -- Extra token request fields, a JSON array of [name, value] pairs such as [["audience", "https://…"]].
    token_params     TEXT NOT NULL DEFAULT '[]',
    secret_entry     TEXT
);

INSERT INTO servers_new (id, name, base_url, auth_kind, client_id, scope, created_at, updated_at, builtin,
                         key_kid, token_url, trusted_origins)
    SELECT id, name, base_url, auth_kind, client_id, scope, created_at, updated_at, builtin,
           key_kid, token_url, trusted_origins
    FROM servers;

DROP TABLE servers;
ALTER TABLE servers_new RENAME TO servers;
CREATE UNIQUE INDEX servers_builtin ON servers (builtin) WHERE builtin IS NOT NULL;
