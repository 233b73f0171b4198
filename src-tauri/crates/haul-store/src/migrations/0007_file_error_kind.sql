-- Why a file failed, as a code (JobFailure.kind: `file_expired`, `network`, `disk`, …) beside the sentence,
-- so that resume and the summary decide on the code, never on the wording.
ALTER TABLE export_files ADD COLUMN error_kind TEXT;

-- Files that failed before this column existed: the only case anything decides on is an expired file, and
-- its sentence has always been the same.
UPDATE export_files SET error_kind = 'file_expired'
    WHERE state = 'failed' AND error LIKE '%no longer on the server%';
UPDATE export_files SET error_kind = 'download' WHERE state = 'failed' AND error_kind IS NULL;
