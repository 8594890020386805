//! The S3 requests that OpenDAL cannot make as we need them, made with the
//! pieces OpenDAL itself is built from: reqsign signs them, with the same
//! credential chain (environment, `AWS_PROFILE`, `~/.aws/config` and
//! `credentials`, instance metadata), and reqwest sends them.
//!
//! - Object uploads, single or multipart, each body carrying the
//!   `Content-MD5` that the pass computed from the bytes it read (OpenDAL
//!   computes digests only from what it sends, and offers MD5 only for
//!   single PUTs). `Content-MD5` is the one body check that AWS, Ceph RGW
//!   and SeaweedFS all verify; the answer's ETag (the MD5 of what the
//!   server stored, for a plain upload) is compared too.
//! - Listing and aborting unfinished multipart uploads, for `ingest gc`: a
//!   machine that dies mid-upload leaves its parts stored, and billed,
//!   until someone aborts the upload.

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use opendal::HttpTransporter;
use opendal_http_transport_reqwest::ReqwestTransport;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqsign_aws_v4::{Credential, DefaultCredentialProvider, EMPTY_STRING_SHA256, RequestSigner};
use reqsign_core::{Context, OsEnv, Signer};
use reqsign_file_read_tokio::TokioFileRead;
use serde::Deserialize;

use super::location::{S3Location, S3Settings};

/// An upload begun and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The whole key, the store's prefix included.
    pub key: String,
    pub upload_id: String,
    /// When the server says it began.
    pub initiated: Option<jiff::Timestamp>,
}

/// Makes the requests of this module in one bucket.
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
        // No bound on a whole request (a large part may take long on a slow
        // link), but on connecting and on each wait for the other side.
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .read_timeout(std::time::Duration::from_secs(120))
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
        let answer = self
            .send_once(Request::new(method, url.to_owned(), Bytes::new()))
            .await
            .map_err(Refused::into_error)?;
        Ok(answer.body)
    }

    /// Stores `body` under `key` (the whole key, the store's prefix
    /// included) unless something is stored there: `Ok(false)` then.
    pub async fn put_new(&self, key: &str, body: Bytes, md5: [u8; 16]) -> Result<bool> {
        let url = format!("{}{}", self.key_base, escape_key(key));
        let request = Request::new(http::Method::PUT, url, body)
            .with_md5(md5)
            .header("if-none-match", "*");
        match self.send_retried(request).await {
            Ok(answer) => answer.check_etag(&md5).map(|()| true),
            Err(Refused::Status(status, _)) if status == http::StatusCode::PRECONDITION_FAILED => {
                Ok(false)
            }
            Err(refused) => Err(refused.into_error()),
        }
    }

    /// Begins a multipart upload of `key`; its upload id.
    pub async fn begin_multipart(&self, key: &str) -> Result<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Begun {
            upload_id: String,
        }
        let url = format!("{}{}?uploads=", self.key_base, escape_key(key));
        let answer = self
            .send_retried(Request::new(http::Method::POST, url, Bytes::new()))
            .await
            .map_err(Refused::into_error)?;
        let begun: Begun = quick_xml::de::from_reader(&answer.body[..])
            .context("reading the answer to a multipart upload's start")?;
        Ok(begun.upload_id)
    }

    /// Uploads part `number` (from 1) of an upload; the part's ETag.
    pub async fn put_part(
        &self,
        upload: &Unfinished,
        number: usize,
        body: Bytes,
        md5: [u8; 16],
    ) -> Result<String> {
        let url = format!(
            "{}{}?partNumber={number}&uploadId={}",
            self.key_base,
            escape_key(&upload.key),
            escape(&upload.upload_id)
        );
        let request = Request::new(http::Method::PUT, url, body).with_md5(md5);
        let answer = self
            .send_retried(request)
            .await
            .map_err(Refused::into_error)?;
        answer.check_etag(&md5)?;
        answer
            .etag
            .ok_or_else(|| anyhow!("the server gave part {number} no ETag"))
    }

    /// Completes an upload from its parts' ETags, unless something is
    /// stored under its key by then: `Ok(false)` (the upload is then
    /// aborted). Not every server honours `If-None-Match` here (Ceph RGW
    /// overwrites); with content-addressed keys and every part's bytes
    /// verified, an overwrite puts back the same bytes.
    pub async fn complete_new(&self, upload: &Unfinished, etags: &[String]) -> Result<bool> {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            let etag = etag.replace('&', "&amp;").replace('<', "&lt;");
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                i + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let url = format!(
            "{}{}?uploadId={}",
            self.key_base,
            escape_key(&upload.key),
            escape(&upload.upload_id)
        );
        let request =
            Request::new(http::Method::POST, url, Bytes::from(xml)).header("if-none-match", "*");
        match self.send_retried(request).await {
            // S3 may answer 200 and put its error in the body.
            Ok(answer) if answer.body.windows(7).any(|w| w == b"<Error>") => {
                bail!("completing the upload: {}", s3_error(&answer.body))
            }
            Ok(_) => Ok(true),
            Err(Refused::Status(status, _)) if status == http::StatusCode::PRECONDITION_FAILED => {
                let _ = self.abort(upload).await;
                Ok(false)
            }
            Err(refused) => Err(refused.into_error()),
        }
    }

    /// [`Uploads::send_once`], tried again after what passes: no answer, a
    /// 5xx, 408 or 429, and a body that reached the server damaged
    /// (`BadDigest`: the bytes sent were checked, so a flipped bit on the
    /// way is worth another try). Four more tries, backing off.
    async fn send_retried(&self, request: Request) -> Result<Answer, Refused> {
        let mut delay = std::time::Duration::from_millis(200);
        let mut tries = 0;
        loop {
            match self.send_once(request.clone()).await {
                Err(refused) if refused.is_transient() && tries < 4 => {
                    tries += 1;
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                done => return done,
            }
        }
    }

    /// Signs and sends one request.
    async fn send_once(&self, request: Request) -> Result<Answer, Refused> {
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.url)
            .header("x-amz-content-sha256", request.payload_hash());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let (mut parts, ()) = builder
            .body(())
            .map_err(|e| Refused::Other(anyhow!("building the request: {e}")))?
            .into_parts();
        self.signer
            .sign(&mut parts, None)
            .await
            .map_err(|e| Refused::Other(anyhow!("signing the request: {}", kind_text(&e))))?;
        parts.headers.remove(http::header::HOST);
        let request = reqwest::Request::try_from(http::Request::from_parts(parts, request.body))
            .map_err(|e| Refused::Other(anyhow!("building the request: {e}")))?;
        let answer = self.http.execute(request).await.map_err(|e| {
            Refused::NoAnswer(format!("no answer from the endpoint ({})", short(e)))
        })?;
        let status = answer.status();
        let etag = answer
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer
            .bytes()
            .await
            .map_err(|e| Refused::NoAnswer(format!("reading the answer ({})", short(e))))?;
        if !status.is_success() {
            return Err(Refused::Status(status, body));
        }
        Ok(Answer { etag, body })
    }
}

/// A request to sign and send (kept whole, to be sent again).
#[derive(Clone)]
struct Request {
    method: http::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Request {
    fn new(method: http::Method, url: String, body: Bytes) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn with_md5(self, md5: [u8; 16]) -> Self {
        use base64::Engine;
        let value = base64::engine::general_purpose::STANDARD.encode(md5);
        self.header("content-md5", value)
    }

    /// A body is checked by its `Content-MD5`, not by a signed SHA-256 of
    /// the payload: that would hash every byte a second time.
    fn payload_hash(&self) -> &'static str {
        if self.body.is_empty() {
            EMPTY_STRING_SHA256
        } else {
            "UNSIGNED-PAYLOAD"
        }
    }
}

/// A 2xx answer.
struct Answer {
    etag: Option<String>,
    body: Bytes,
}

impl Answer {
    /// For a plain upload the ETag is the MD5 of what the server stored:
    /// when it has that form, it must be ours. (An ETag of another form,
    /// as with some server-side encryption, says nothing either way.)
    fn check_etag(&self, md5: &[u8; 16]) -> Result<()> {
        let Some(etag) = &self.etag else {
            return Ok(());
        };
        let digits = etag.trim_matches('"');
        if digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            let ours = hex::encode(md5);
            if !digits.eq_ignore_ascii_case(&ours) {
                bail!(
                    "the server stored other bytes than were sent (ETag {digits}, MD5 sent {ours})"
                );
            }
        }
        Ok(())
    }
}

/// Why a request did not succeed.
enum Refused {
    NoAnswer(String),
    Status(http::StatusCode, Bytes),
    Other(anyhow::Error),
}

impl Refused {
    fn is_transient(&self) -> bool {
        match self {
            Refused::NoAnswer(_) => true,
            Refused::Status(status, body) => {
                status.is_server_error()
                    || *status == http::StatusCode::REQUEST_TIMEOUT
                    || *status == http::StatusCode::TOO_MANY_REQUESTS
                    || (*status == http::StatusCode::BAD_REQUEST
                        && body.windows(9).any(|w| w == b"BadDigest"))
            }
            Refused::Other(_) => false,
        }
    }

    fn into_error(self) -> anyhow::Error {
        match self {
            Refused::NoAnswer(why) => anyhow!(why),
            Refused::Status(status, body) => anyhow!("{status}: {}", s3_error(&body)),
            Refused::Other(e) => e,
        }
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
