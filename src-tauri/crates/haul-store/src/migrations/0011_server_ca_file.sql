-- The CA certificate file (a path, as chosen) that the server's certificate is checked against besides the
-- platform's roots: servers behind their organisation's own certificate authority. NULL: the platform's alone.
ALTER TABLE servers ADD COLUMN ca_file TEXT;
