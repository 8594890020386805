//! Unfinished multipart uploads under an S3 prefix, listed and aborted for
//! `ingest gc`: a machine that dies mid-upload leaves its parts stored, and
//! billed, until someone aborts the upload.
//!
//! OpenDAL makes every other request but has no call to list uploads, so
//! these two requests are made here, with the pieces OpenDAL itself is built
//! from: reqsign signs them, with the same credential chain (environment,
//! `AWS_PROFILE`, `~/.aws/config` and `credentials`, instance metadata),
//! and reqwest sends them.

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use opendal::HttpTransporter;
use opendal_http_transport_reqwest::ReqwestTransport;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqsign_aws_v4::{Credential, DefaultCredentialProvider, EMPTY_STRING_SHA256, RequestSigner};
use reqsign_core::{Context, OsEnv, Signer};
use reqsign_file_read_tokio::TokioFileRead;
use serde::Deserialize;

use super::{S3Location, S3Settings};

/// An upload begun and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The whole key, the store's prefix included.
    pub key: String,
    pub upload_id: String,
    /// When the server says it began.
    pub initiated: Option<jiff::Timestamp>,
}

/// Lists and aborts multipart uploads in one bucket.
pub struct Uploads {
    http: reqwest::Client,
    signer: Signer<Credential>,
    /// Where the bucket's listings are asked for: `scheme://host/bucket`
    /// (path-style) or `scheme://bucket.host/`.
    list_url: String,
    /// What a key follows: the same, ending in `/`.
    key_base: String,
}

/// What S3 keeps unescaped in a URL: the unreserved characters of RFC 3986,
/// as SigV4 requires.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn escape(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// A key in a URL path: each segment escaped, the `/` between them kept.
fn escape_key(key: &str) -> String {
    key.split('/').map(escape).collect::<Vec<_>>().join("/")
}

impl Uploads {
    pub fn new(location: &S3Location, settings: &S3Settings) -> Result<Uploads> {
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", settings.region));
        let endpoint = endpoint.trim_end_matches('/');
        let (list_url, key_base) = if settings.path_style {
            let bucket = format!("{endpoint}/{}", escape(&location.bucket));
            (bucket.clone(), bucket + "/")
        } else {
            let (scheme, host) = endpoint
                .split_once("://")
                .ok_or_else(|| anyhow!("{endpoint}: not a URL (scheme://host)"))?;
            let bucket = format!("{scheme}://{}.{host}/", location.bucket);
            (bucket.clone(), bucket)
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("starting an HTTP client")?;
        let context = Context::new()
            .with_file_read(TokioFileRead)
            .with_env(OsEnv)
            // What reqsign fetches credentials with (instance metadata,
            // SSO, STS): OpenDAL's transport over the same client.
            .with_http_send(HttpTransporter::new(ReqwestTransport::new(http.clone())));
        let signer = Signer::new(
            context,
            DefaultCredentialProvider::new(),
            RequestSigner::new("s3", &settings.region),
        );
        Ok(Uploads {
            http,
            signer,
            list_url,
            key_base,
        })
    }

    /// Every unfinished upload whose key starts with `prefix`, page by page.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Unfinished>> {
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut url = format!("{}?uploads=&prefix={}", self.list_url, escape(prefix));
            if let Some((key, id)) = &markers {
                url.push_str(&format!(
                    "&key-marker={}&upload-id-marker={}",
                    escape(key),
                    escape(id)
                ));
            }
            let body = self.send(http::Method::GET, &url).await?;
            let page: ListResult = quick_xml::de::from_reader(&body[..])
                .context("reading the list of multipart uploads")?;
            found.extend(page.uploads.into_iter().map(|u| Unfinished {
                initiated: u.initiated.parse().ok(),
                key: u.key,
                upload_id: u.upload_id,
            }));
            match (
                page.is_truncated,
                page.next_key_marker,
                page.next_upload_id_marker,
            ) {
                (true, Some(key), Some(id))
                    if markers.as_ref() != Some(&(key.clone(), id.clone())) =>
                {
                    markers = Some((key, id));
                }
                _ => return Ok(found),
            }
        }
    }

    /// Aborts one upload: the server drops the parts it holds.
    pub async fn abort(&self, upload: &Unfinished) -> Result<()> {
        let url = format!(
            "{}{}?uploadId={}",
            self.key_base,
            escape_key(&upload.key),
            escape(&upload.upload_id)
        );
        self.send(http::Method::DELETE, &url).await.map(drop)
    }

    /// Sends a signed request without a body; the body of a 2xx answer.
    async fn send(&self, method: http::Method, url: &str) -> Result<Bytes> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("x-amz-content-sha256", EMPTY_STRING_SHA256)
            .body(())
            .context("building the request")?;
        let (mut parts, ()) = request.into_parts();
        self.signer
            .sign(&mut parts, None)
            .await
            .map_err(|e| anyhow!("signing the request: {}", kind_text(&e)))?;
        parts.headers.remove(http::header::HOST);
        let request = reqwest::Request::try_from(http::Request::from_parts(parts, Vec::new()))
            .context("building the request")?;
        let answer = self
            .http
            .execute(request)
            .await
            .map_err(|e| anyhow!("no answer from the endpoint ({})", short(e)))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| anyhow!("reading the answer ({})", short(e)))?;
        if !status.is_success() {
            bail!("{status}: {}", s3_error(&body));
        }
        Ok(body)
    }
}

/// reqwest's error without the URL it carries (the URL is ours, and long).
fn short(e: reqwest::Error) -> String {
    let text = e.without_url().to_string();
    text.chars().take(200).collect()
}

/// The `<Message>` (and `<Code>`) of an S3 error document, else its start.
fn s3_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ErrorXml {
        code: Option<String>,
        message: Option<String>,
    }
    match quick_xml::de::from_reader::<_, ErrorXml>(body) {
        Ok(ErrorXml {
            code: Some(code),
            message: Some(message),
        }) => format!("{message} ({code})"),
        Ok(ErrorXml {
            code: Some(code), ..
        }) => code,
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// Only the kind: a signing error's message may quote what it read.
fn kind_text(e: &reqsign_core::Error) -> String {
    format!("{:?}", e.kind())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListResult {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<UploadXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadXml {
    key: String,
    upload_id: String,
    #[serde(default)]
    initiated: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_escaped_as_sigv4_wants() {
        assert_eq!(escape("a b/c+d~e"), "a%20b%2Fc%2Bd~e");
        assert_eq!(escape_key("p/objects/ab/x y"), "p/objects/ab/x%20y");
    }

    #[test]
    fn a_listing_page_reads_with_its_markers() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>p/objects/ab/k2</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>p/objects/ab/k1</Key><UploadId>id1</UploadId><Initiated>2026-11-30T10:00:00.000Z</Initiated></Upload>
  <Upload><Key>p/objects/ab/k2</Key><UploadId>id2</UploadId><Initiated>2026-11-30T11:00:00Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let page: ListResult = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_upload_id_marker.as_deref(), Some("id2"));
        assert_eq!(page.uploads.len(), 2);
        assert_eq!(page.uploads[0].key, "p/objects/ab/k1");
        assert!(page.uploads[0].initiated.parse::<jiff::Timestamp>().is_ok());
        let empty: ListResult = quick_xml::de::from_str(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert!(empty.uploads.is_empty());
    }

    #[test]
    fn s3_errors_read_as_message_and_code() {
        let body = b"<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>";
        assert_eq!(s3_error(body), "Access Denied. (AccessDenied)");
        assert_eq!(s3_error(b"not xml"), "not xml");
    }
}
