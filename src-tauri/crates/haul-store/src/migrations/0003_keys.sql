-- Signing keys for SMART Backend Services. Only the public half is here; the private key lives in the
-- OS keychain under the same kid.
CREATE TABLE keys (
    kid           TEXT PRIMARY KEY,
    label         TEXT NOT NULL,
    alg           TEXT NOT NULL CHECK (alg IN ('RS384', 'ES384')),
    public_jwk    TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at  TEXT
);

ALTER TABLE servers ADD COLUMN key_kid TEXT REFERENCES keys (kid) ON DELETE SET NULL;
ALTER TABLE servers ADD COLUMN token_url TEXT;
