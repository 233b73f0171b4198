//! AWS's shared profile files (`~/.aws/credentials` and `~/.aws/config`, as `aws configure` writes them), which
//! `object_store` does not read. The AWS rules of precedence: variables in the environment first, then the
//! profile named by `AWS_PROFILE` (else `default`), then web identity and instance metadata. What is read stays
//! in memory, in the store's settings; it is never written or shown (an error names the file, not its content).

use std::path::PathBuf;

use object_store::aws::AmazonS3ConfigKey;

use crate::DestinationError;

/// Profile settings that take AWS's own tools further than keys in a file: Haul does not follow them.
const NOT_FOLLOWED: &[&str] =
    &["credential_process", "role_arn", "sso_session", "sso_start_url", "web_identity_token_file", "source_profile"];

/// The profile files and the profile the environment names.
pub(crate) struct ProfileFiles {
    credentials: PathBuf,
    config: PathBuf,
    /// Named in the environment (`AWS_PROFILE`): it must exist. Otherwise `default`, which may not.
    named: Option<String>,
    env_has_keys: bool,
    env_has_region: bool,
    env_has_endpoint: bool,
}

impl ProfileFiles {
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(&|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let home = get("HOME").or_else(|| get("USERPROFILE")).map(PathBuf::from).unwrap_or_default();
        let aws = home.join(".aws");
        Self {
            credentials: get("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| aws.join("credentials")),
            config: get("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| aws.join("config")),
            named: get("AWS_PROFILE").or_else(|| get("AWS_DEFAULT_PROFILE")),
            env_has_keys: get("AWS_ACCESS_KEY_ID").is_some(),
            env_has_region: get("AWS_REGION").is_some() || get("AWS_DEFAULT_REGION").is_some(),
            env_has_endpoint: get("AWS_ENDPOINT_URL").is_some() || get("AWS_ENDPOINT").is_some(),
        }
    }

    /// The settings the profile adds to those of the environment.
    pub(crate) fn settings(&self, address: &str) -> Result<Vec<(AmazonS3ConfigKey, String)>, DestinationError> {
        let name = self.named.clone().unwrap_or_else(|| "default".into());
        let section = |file: &PathBuf, title: &str| -> Result<Option<Vec<(String, String)>>, DestinationError> {
            if !file.is_file() {
                return Ok(None);
            }
            let ini = ini::Ini::load_from_file(file).map_err(|e| DestinationError::Setup {
                address: address.to_string(),
                reason: format!("the AWS profile file {} cannot be read ({})", file.display(), kind_of(&e)),
            })?;
            Ok(ini.section(Some(title)).map(|s| s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
        };
        let in_credentials = section(&self.credentials, &name)?;
        let config_title = if name == "default" { "default".to_string() } else { format!("profile {name}") };
        let in_config = section(&self.config, &config_title)?;
        if in_credentials.is_none() && in_config.is_none() {
            return match &self.named {
                Some(_) => Err(DestinationError::Setup {
                    address: address.to_string(),
                    reason: format!(
                        "the AWS profile “{name}” (AWS_PROFILE) is in neither {} nor {}",
                        self.credentials.display(),
                        self.config.display()
                    ),
                }),
                None => Ok(Vec::new()),
            };
        }
        // The credentials file wins over the config file for the same key, as in AWS's tools.
        let mut values: Vec<(String, String)> = in_config.unwrap_or_default();
        values.extend(in_credentials.unwrap_or_default());
        let get = |key: &str| values.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let mut out = Vec::new();
        if !self.env_has_keys {
            match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                (Some(id), Some(secret)) => {
                    out.push((AmazonS3ConfigKey::AccessKeyId, id));
                    out.push((AmazonS3ConfigKey::SecretAccessKey, secret));
                    if let Some(token) = get("aws_session_token") {
                        out.push((AmazonS3ConfigKey::Token, token));
                    }
                }
                _ => {
                    if let Some(other) = NOT_FOLLOWED.iter().find(|k| get(k).is_some()) {
                        return Err(DestinationError::Setup {
                            address: address.to_string(),
                            reason: format!(
                                "the AWS profile “{name}” signs in with {other}, which Haul does not follow yet. Give Haul keys in the environment instead, for example with `eval \"$(aws configure export-credentials --profile {name} --format env)\"`"
                            ),
                        });
                    }
                }
            }
        }
        if !self.env_has_region
            && let Some(region) = get("region")
        {
            out.push((AmazonS3ConfigKey::Region, region));
        }
        if !self.env_has_endpoint
            && let Some(endpoint) = get("endpoint_url")
        {
            out.push((AmazonS3ConfigKey::Endpoint, endpoint));
        }
        Ok(out)
    }
}

/// What went wrong with a profile file, without quoting it (it holds keys).
fn kind_of(e: &ini::Error) -> &'static str {
    match e {
        ini::Error::Io(_) => "it could not be opened",
        ini::Error::Parse(_) => "it is not in the INI format aws configure writes",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn files(credentials: &str, config: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, ProfileFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("credentials"), credentials).unwrap();
        std::fs::write(dir.path().join("config"), config).unwrap();
        let mut vars: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.insert("HOME".into(), "/nonexistent".into());
        vars.insert("AWS_SHARED_CREDENTIALS_FILE".into(), dir.path().join("credentials").display().to_string());
        vars.insert("AWS_CONFIG_FILE".into(), dir.path().join("config").display().to_string());
        let p = ProfileFiles::from_lookup(&|k| vars.get(k).cloned());
        (dir, p)
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[lake]\naws_access_key_id = AKIALAKE\naws_secret_access_key = s2\naws_session_token = t2\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n\n[profile lake]\nregion = us-east-2\nendpoint_url = http://127.0.0.1:9000\n\n[profile sso]\nsso_session = corp\n";

    #[test]
    fn the_named_profile_gives_keys_region_and_endpoint() {
        let (_d, p) = files(CREDENTIALS, CONFIG, &[("AWS_PROFILE", "lake")]);
        let s = p.settings("s3://b").unwrap();
        assert!(s.contains(&(AmazonS3ConfigKey::AccessKeyId, "AKIALAKE".into())));
        assert!(s.contains(&(AmazonS3ConfigKey::Token, "t2".into())));
        assert!(s.contains(&(AmazonS3ConfigKey::Region, "us-east-2".into())));
        assert!(s.contains(&(AmazonS3ConfigKey::Endpoint, "http://127.0.0.1:9000".into())));
        let (_d, p) = files(CREDENTIALS, CONFIG, &[]);
        assert!(p.settings("s3://b").unwrap().contains(&(AmazonS3ConfigKey::AccessKeyId, "AKIADEFAULT".into())));
    }

    #[test]
    fn the_environment_wins_over_the_files() {
        let (_d, p) = files(CREDENTIALS, CONFIG, &[("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_REGION", "ap-south-1")]);
        let s = p.settings("s3://b").unwrap();
        assert!(!s.iter().any(|(k, _)| matches!(k, AmazonS3ConfigKey::AccessKeyId | AmazonS3ConfigKey::Region)));
    }

    #[test]
    fn a_missing_profile_or_one_haul_cannot_follow_is_explained_without_secrets() {
        let (_d, p) = files(CREDENTIALS, CONFIG, &[("AWS_PROFILE", "nope")]);
        assert!(p.settings("s3://b").unwrap_err().to_string().contains("“nope” (AWS_PROFILE) is in neither"));
        let (_d, p) = files(CREDENTIALS, CONFIG, &[("AWS_PROFILE", "sso")]);
        let e = p.settings("s3://b").unwrap_err().to_string();
        assert!(e.contains("sso_session") && e.contains("export-credentials"), "{e}");
        let (_d, p) = files("[default]\naws_secret_access_key = s3cr3t\n[broken", "", &[]);
        let e = p.settings("s3://b").unwrap_err().to_string();
        assert!(e.contains("not in the INI format") && !e.contains("s3cr3t"), "{e}");
        // No files and no profile named: nothing added, the other sources decide.
        let p = ProfileFiles::from_lookup(&|k| (k == "HOME").then(|| "/nonexistent".to_string()));
        assert!(p.settings("s3://b").unwrap().is_empty());
    }
}
