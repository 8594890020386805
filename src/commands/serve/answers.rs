//! The answers every endpoint shares: JSON errors, closing a connection,
//! an upload's report, immutable bytes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::engine::FileReport;

/// A JSON error answer: `{"error": "..."}`.
pub fn error(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

pub(super) fn report_response(report: FileReport) -> Response {
    let status = StatusCode::from_u16(report.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(report)).into_response()
}

/// Asks the client to close: the rest of its body will not be read.
pub(super) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// An answer of stored bytes, which never change: cached for a year under
/// `etag`, never sniffed, never run.
pub(super) fn immutable(etag: &str) -> axum::http::response::Builder {
    Response::builder()
        .header(header::ETAG, etag)
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
}

/// Runs `work` on the blocking pool. Its failure is a 503 when another
/// writer held the store past the wait (a passing state), else a 500 that
/// says `failed` (the cause is logged, not shown).
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    failed: &'static str,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) if crate::store::Busy::caused(&e) => {
            tracing::warn!("{e:#}");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is busy with other writers: try again",
            ))
        }
        Ok(Err(e)) => {
            tracing::error!("{failed}: {e:#}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, failed))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}
