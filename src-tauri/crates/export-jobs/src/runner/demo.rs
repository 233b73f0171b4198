//! The built-in demo server starts on a new loopback port each time the app does, and keeps no exports: an
//! export it was preparing or serving is gone with it. A job begun on an earlier demo server is therefore
//! asked again of the current one (found by the job's saved server, not its old address), its partial files
//! removed; the folder keeps its log.

use haul_store::JobRecord;

use super::ExportRunner;
use crate::JobError;
use crate::folder::{ExportFolder, FolderError};

/// Two FHIR base URLs name the same server (a trailing slash aside).
fn same_base(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl ExportRunner {
    /// Whether the job's saved server is the demo server and it is no longer where the job was started.
    pub(super) fn demo_moved(&self, job: &JobRecord) -> bool {
        let db = self.db.lock().expect("database lock");
        job.server_id
            .and_then(|id| db.get_server(id).ok())
            .is_some_and(|s| s.builtin && !same_base(&s.base_url, &job.fhir_url))
    }

    /// The job as it should run: started over at the demo server's current address when its saved server is
    /// the demo server and that has moved (true then), else unchanged.
    pub(super) fn follow_demo_server(
        &self,
        job: JobRecord,
        folder: &ExportFolder,
    ) -> Result<(JobRecord, bool), JobError> {
        if !self.demo_moved(&job) {
            return Ok((job, false));
        }
        let db = self.db.lock().expect("database lock");
        let server = job.server_id.and_then(|id| db.get_server(id).ok()).ok_or(JobError::NotFound(job.id))?;
        let unwritable =
            |source| JobError::Folder(FolderError::Unwritable { path: folder.path().to_path_buf(), source });
        for file in db.job_files(job.id)? {
            for path in [folder.file(&file.name), folder.part(&file.name), folder.quarantine(&file.name)] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(unwritable(e)),
                }
            }
        }
        for path in [folder.manifest(), folder.report()] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(unwritable(e)),
            }
        }
        db.restart_job_at(job.id, &server.base_url)?;
        let job = db.get_job(job.id)?.ok_or(JobError::NotFound(job.id))?;
        Ok((job, true))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_base_ignores_a_trailing_slash_only() {
        assert!(super::same_base("http://127.0.0.1:4000/fhir/", "http://127.0.0.1:4000/fhir"));
        assert!(!super::same_base("http://127.0.0.1:4000/fhir", "http://127.0.0.1:4001/fhir"));
    }
}
