-- What the server named the version of a file whose bytes are in its .part (a strong ETag, or a Last-Modified
-- date), so a resumed download asks for the rest only of that version (If-Range) and never splices two.
ALTER TABLE export_files ADD COLUMN version TEXT;
