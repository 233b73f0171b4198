-- A server that runs one export per client at a time (CMS BCDA) refuses a kickoff while another runs, and
-- names that export's status URL. It is kept here so the user can cancel that export from Haul.
ALTER TABLE exports ADD COLUMN blocked_by TEXT;
