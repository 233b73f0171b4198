-- The kind of server, from Haul's profiles (server-profiles crate): which quirks its exports get. NULL: none
-- chosen (a standard server).
ALTER TABLE servers ADD COLUMN profile_id TEXT;
