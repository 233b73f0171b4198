-- A client certificate's chain (public) is kept here; the keychain keeps only its private key, whose DER fits
-- every keychain's entry size (Windows Credential Manager takes 2,560 bytes, less than a chain and key as PEM).
ALTER TABLE servers ADD COLUMN client_certificate_chain TEXT;
