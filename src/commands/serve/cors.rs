//! Cross-origin requests, for the origins `--cors-origin` names only: a
//! browser client served from elsewhere (Uppy on a site, a note-taking
//! app's plugin) may then call the API with its token. A preflight is
//! answered before any token is asked for (it carries none); every other
//! answer to an allowed origin says which headers the client may read,
//! tus's among them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins allowed (`*`: any).
#[derive(Debug, Clone, Default)]
pub struct Origins(pub Vec<String>);

const METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED: &str = "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Offset, \
    Upload-Metadata, Upload-Defer-Length, Upload-Checksum, Upload-Complete, \
    Upload-Draft-Interop-Version, X-HTTP-Method-Override, X-Ingest-Sha256, Repr-Digest, \
    X-Requested-With";
const EXPOSED: &str = "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, \
    Upload-Complete, Upload-Defer-Length, Upload-Draft-Interop-Version, Tus-Resumable, \
    Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, X-Ingest-Sha256, \
    X-Ingest-Status, Retry-After";

impl Origins {
    /// The request's origin, when it is one allowed.
    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.0
            .iter()
            .any(|allowed| allowed == "*" || allowed == text)
            .then(|| origin.clone())
    }
}

pub async fn cors(State(origins): State<Arc<Origins>>, request: Request, next: Next) -> Response {
    let allowed = origins.allowed(request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && let Some(origin) = &allowed {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = allowed {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}
