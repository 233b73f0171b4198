-- Exports repeated by the operating system's scheduler (`haul run-scheduled ID`): which export each repeats
-- (its server, request and settings), when, and how its last run went. A failed run not yet seen in the app
-- is told by a notification the next time the app opens.
CREATE TABLE schedules (
    id            INTEGER PRIMARY KEY,
    export_id     INTEGER NOT NULL REFERENCES exports(id),
    cadence       TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly', 'monthly')),
    at_time       TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_run_at   TEXT,
    last_job_id   INTEGER,
    last_outcome  TEXT,
    last_message  TEXT,
    failure_seen  INTEGER NOT NULL DEFAULT 1
);
-- The schedule a run came from (History shows scheduled runs as such).
ALTER TABLE exports ADD COLUMN schedule_id INTEGER;
