-- Storage origins (besides the server's own) that may receive the server's access token: a JSON array of
-- normalized origins such as ["https://files.example.com"]. Empty, the safe default, for every server.
ALTER TABLE servers ADD COLUMN trusted_origins TEXT NOT NULL DEFAULT '[]';
