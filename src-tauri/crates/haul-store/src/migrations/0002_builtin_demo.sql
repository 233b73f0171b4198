-- The built-in demo server: marked so the app can keep its address current (it runs on a free port).
ALTER TABLE servers ADD COLUMN builtin TEXT CHECK (builtin IN ('demo'));
CREATE UNIQUE INDEX servers_builtin ON servers (builtin) WHERE builtin IS NOT NULL;

-- Small app-wide facts, such as "the demo server was offered once" (so a removed demo stays removed).
CREATE TABLE app_settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
