-- An export into object storage: a file's unfinished multipart upload, as JSON (the storage's upload id, the
-- ids of the parts sent, and where in the server's file the sent parts end), so a resumed export continues it.
-- Ids only: no credential is ever kept here.
ALTER TABLE export_files ADD COLUMN upload TEXT;
