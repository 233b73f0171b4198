//! "Test connection", the whole way: the capability statement, signing in, and a small `$export` kickoff
//! that is cancelled at once. Each step says in plain words whether it worked and, if not, what to do; a
//! step after a failed one is skipped, not guessed.

use bulk_client::{ExportLevel, ExportRequest, Kickoff, fetch_summary};
use haul_store::Server;
use serde::Serialize;
use ts_rs::TS;

use crate::plan::sign_in_of;
use crate::runner::{ExportRunner, JobError};

/// One step of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProbeStepName {
    /// `[base]/metadata`: the address is a FHIR server.
    Capability,
    /// A token from the token endpoint (skipped for open servers).
    SignIn,
    /// A kickoff of a small export (Patient resources), cancelled at once with DELETE.
    Kickoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProbeOutcome {
    Passed,
    Failed,
    /// Not tried: an earlier step failed, or the step does not apply.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ProbeStep {
    pub step: ProbeStepName,
    pub outcome: ProbeOutcome,
    pub message: String,
    pub detail: Option<String>,
}

impl ProbeStep {
    fn passed(step: ProbeStepName, message: impl Into<String>) -> Self {
        Self { step, outcome: ProbeOutcome::Passed, message: message.into(), detail: None }
    }

    fn failed(step: ProbeStepName, message: impl Into<String>, detail: Option<String>) -> Self {
        Self { step, outcome: ProbeOutcome::Failed, message: message.into(), detail }
    }

    fn skipped(step: ProbeStepName, message: impl Into<String>) -> Self {
        Self { step, outcome: ProbeOutcome::Skipped, message: message.into(), detail: None }
    }
}

/// Runs the chain against a saved server, through its CA certificate file and with its sign-in, as an export
/// of it would. `request` is the kickoff to try (by default [`probe_request`]); what it starts is cancelled at
/// once. A server whose sign-in is not set up yet (no client ID, key or saved secret) is an error: nothing is
/// tried.
pub async fn probe(
    runner: &ExportRunner,
    server: &Server,
    request: &ExportRequest,
) -> Result<Vec<ProbeStep>, JobError> {
    let signs_in = sign_in_of(server)?.is_some();
    let mut steps = Vec::new();
    let not_fhir = |steps: &mut Vec<ProbeStep>| {
        steps.push(ProbeStep::skipped(ProbeStepName::SignIn, "Not tried: the server did not answer as FHIR."));
        steps.push(ProbeStep::skipped(ProbeStepName::Kickoff, "Not tried: the server did not answer as FHIR."));
    };
    // A CA certificate file that cannot be read fails the first step: no request could be trusted without it.
    let http = match runner.http_for_server(server) {
        Ok(http) => http,
        Err(e) => {
            steps.push(ProbeStep::failed(ProbeStepName::Capability, e.to_string(), None));
            not_fhir(&mut steps);
            return Ok(steps);
        }
    };
    match fetch_summary(&http, &server.base_url).await {
        Ok(summary) => {
            let bulk = if summary.instantiates_bulk_data || !summary.export_levels.is_empty() {
                "and says it supports Bulk Data export"
            } else {
                "but does not say it supports Bulk Data export (the test export below tells for sure)"
            };
            steps.push(ProbeStep::passed(
                ProbeStepName::Capability,
                format!("The address answers as a FHIR server {bulk}."),
            ));
        }
        Err(e) => {
            steps.push(ProbeStep::failed(ProbeStepName::Capability, e.message, e.detail));
            not_fhir(&mut steps);
            return Ok(steps);
        }
    }
    let session = match runner.session_for_server(server).await {
        Ok(s) => s,
        Err(e) => {
            steps.push(ProbeStep::failed(ProbeStepName::SignIn, e.to_string(), None));
            steps.push(ProbeStep::skipped(ProbeStepName::Kickoff, "Not tried: Haul could not sign in."));
            return Ok(steps);
        }
    };
    if !signs_in {
        steps.push(ProbeStep::skipped(ProbeStepName::SignIn, "This server is set up without sign-in."));
    } else {
        match session.check_sign_in().await {
            Ok(()) => {
                steps.push(ProbeStep::passed(ProbeStepName::SignIn, "Signed in: the token endpoint gave Haul a token."))
            }
            Err(e) => {
                steps.push(ProbeStep::failed(ProbeStepName::SignIn, e.message, e.detail));
                steps.push(ProbeStep::skipped(ProbeStepName::Kickoff, "Not tried: Haul could not sign in."));
                return Ok(steps);
            }
        }
    }
    steps.push(match session.kickoff(request).await {
        Ok(Kickoff::Accepted { status_url }) => match session.delete(&status_url).await {
            Ok(()) => ProbeStep::passed(
                ProbeStepName::Kickoff,
                "The server accepted a test export (and Haul cancelled it at once): exports will work.",
            ),
            Err(e) => ProbeStep::passed(
                ProbeStepName::Kickoff,
                format!(
                    "The server accepted a test export, but did not confirm its cancellation ({}); it will expire on its own.",
                    e.message
                ),
            ),
        },
        Ok(Kickoff::Busy { said, .. }) => ProbeStep::skipped(
            ProbeStepName::Kickoff,
            format!(
                "The server is busy (HTTP 429){}, so a test export could not be tried now. Connection and sign-in work; try again later.",
                said.map(|s| format!(": {s}")).unwrap_or_default()
            ),
        ),
        Err(e) => ProbeStep::failed(ProbeStepName::Kickoff, e.message, e.detail),
    });
    Ok(steps)
}

/// The kickoff a test sends: Patient resources of all patients, the level nearly every server supports.
pub fn probe_request() -> ExportRequest {
    ExportRequest { level: Some(ExportLevel::Patient), types: vec!["Patient".into()], ..Default::default() }
}
