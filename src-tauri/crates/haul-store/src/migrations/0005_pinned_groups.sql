-- Groups a user pinned on a server (the rosters exported every month), shown first on the Groups page.
CREATE TABLE pinned_groups (
    server_id   INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    group_id    TEXT NOT NULL,
    name        TEXT,
    members     INTEGER,
    pinned_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (server_id, group_id)
);
