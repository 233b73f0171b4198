-- How a server is reached on a corporate network (issue 15). A proxy: its address and user name here, its
-- password only in the OS keychain (the entry's name in proxy_password_entry). A client certificate for
-- mutual TLS: certificate and private key only in the keychain (client_certificate_entry); here only what the
-- user recognises it by (JSON: file name, subject, expiry).
ALTER TABLE servers ADD COLUMN proxy_url TEXT;
ALTER TABLE servers ADD COLUMN proxy_username TEXT;
ALTER TABLE servers ADD COLUMN proxy_password_entry TEXT;
ALTER TABLE servers ADD COLUMN client_certificate TEXT;
ALTER TABLE servers ADD COLUMN client_certificate_entry TEXT;
