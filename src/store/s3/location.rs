//! Where an S3 store is (`s3://BUCKET/PREFIX`) and how to reach its server.

use anyhow::{Result, anyhow, bail};

/// `s3://BUCKET/PREFIX`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket/prefix`; None if `text` is not an S3 URL.
    pub fn parse(text: &str) -> Option<Result<S3Location>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(anyhow!("{text}: no bucket (s3://BUCKET/PREFIX)")));
        }
        Some(Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        }))
    }

    pub fn url(&self) -> String {
        match self.prefix.is_empty() {
            true => format!("s3://{}", self.bucket),
            false => format!("s3://{}/{}", self.bucket, self.prefix),
        }
    }
}

/// How to reach the server: from the environment, as every S3 tool reads
/// it (credentials are left to the client's usual chain: environment, then
/// `~/.aws/credentials` and `~/.aws/config`).
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`) rather than
    /// virtual-hosted (`bucket.endpoint/key`).
    pub path_style: bool,
}

impl S3Settings {
    /// `AWS_ENDPOINT_URL`, `AWS_REGION` (or `AWS_DEFAULT_REGION`, else
    /// us-east-1); path-style unless asked otherwise when an endpoint is
    /// given (most self-hosted servers want it), virtual-hosted for AWS.
    pub fn from_env(addressing: Option<&str>) -> Result<S3Settings> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        let path_style = match addressing {
            None => endpoint.is_some(),
            Some("path") => true,
            Some("virtual") => false,
            Some(other) => bail!("--s3-addressing {other:?}: use path or virtual"),
        };
        Ok(S3Settings {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            endpoint,
            path_style,
        })
    }
}
