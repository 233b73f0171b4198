-- SMART Backend Services registrations that differ from Haul's defaults: the key id the server assigned
-- (DPC: the id it shows after the public key is uploaded), sent as the assertion's kid instead of Haul's own,
-- and a JWKS URL sent as the assertion's jku (Epic and others register a URL rather than a key).
ALTER TABLE servers ADD COLUMN assertion_kid TEXT;
ALTER TABLE servers ADD COLUMN jku TEXT;
