-- The deleted resources a manifest's deleted[] file lists (entries of its Bundles; a line may hold several),
-- counted when the file is verified: the deletions an incremental export reports and a dataset applies.
ALTER TABLE export_files ADD COLUMN deletions INTEGER NOT NULL DEFAULT 0;
