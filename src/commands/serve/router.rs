//! The router, its middleware (head limit, JSON errors, the request log),
//! and the small endpoints (health, limits).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::answers::{closing, error};
use super::auth::{self, Caller};
use super::body::content_length;
use super::connections::{self, Remote};
use super::cors;
use super::{
    MAX_HEAD_BYTES, MAX_NAME_BYTES, MAX_PARTS, Shared, entries, objects, page, trash, tus, uploads,
};
use crate::policy::MimePattern;

pub fn router(shared: Arc<Shared>) -> Router {
    let with_token = Router::new()
        .route("/v1/upload", post(uploads::upload))
        .route("/v1/files/{name}", put(uploads::put_file))
        .route("/v1/objects/check", post(objects::check_objects))
        .route("/v1/objects/{sha256}", get(objects::get_object))
        .route(
            "/v1/objects/{sha256}/thumbnail",
            get(objects::get_thumbnail),
        )
        .route("/v1/entries", get(entries::entries))
        .route("/v1/entries/{id}", delete(trash::delete_entry))
        .route("/v1/trash", get(trash::list))
        .route("/v1/trash/{id}/restore", post(trash::restore))
        .route("/v1/limits", get(limits))
        .route("/v1/tus", post(tus::create))
        .route("/v1/tus/", post(tus::create))
        .route(
            "/v1/tus/{id}",
            axum::routing::head(tus::head)
                .patch(tus::patch)
                .delete(tus::terminate),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(page::index))
        .route("/page/{file}", get(page::asset))
        .route("/favicon.ico", get(page::icon))
        .route("/v1/health", get(health))
        .route("/v1/tus", axum::routing::options(tus::options))
        .route("/v1/tus/", axum::routing::options(tus::options))
        .merge(with_token)
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared.origins),
            cors::cors,
        ))
        .layer(middleware::from_fn(limit_head))
        .layer(middleware::from_fn(log_request))
        .with_state(shared)
}

/// The router as a connection's service, with the client's address on
/// every request, each request counted in flight on its connection until
/// its answer's body is done (see [`connections`]).
pub fn service(
    router: Router,
    remote: SocketAddr,
    activity: Arc<connections::Activity>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Response, std::convert::Infallible>>
             + Send
             + 'static,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(Remote(remote));
        let in_flight = activity.begin();
        let mut router = router.clone();
        let answer = tower_service::Service::call(&mut router, request.map(Body::new));
        async move {
            let response = answer.await?;
            Ok(connections::Clocked::wrap(response, in_flight))
        }
    })
}

pub(super) async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint (see GET /v1/limits)",
    )
}

pub(super) async fn health() -> Response {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

pub(super) async fn limits(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let policy = &shared.policy;
    let scope = caller.scope.name();
    let patterns = |p: &[MimePattern]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    Json(json!({
        "max_size": policy.max_size,
        "allow": patterns(&policy.allow),
        "deny": patterns(&policy.deny),
        "scanning": policy.clamd.is_some(),
        "max_uploads": shared.max_uploads,
        "max_uploads_per_token": shared.max_uploads_per_token,
        "max_parts": MAX_PARTS,
        "max_name_bytes": MAX_NAME_BYTES,
        "token": { "name": caller.name, "scope": scope },
    }))
    .into_response()
}

/// Refuses a request whose head is over [`MAX_HEAD_BYTES`] (431), before
/// anything else looks at it: hyper stops a head only at the connection's
/// read buffer, which is wider than that on the first connections.
pub(super) async fn limit_head(request: Request, next: Next) -> Response {
    if head_bytes(&request) > MAX_HEAD_BYTES {
        let why = format!("the request's head is over {} KiB", MAX_HEAD_BYTES / 1024);
        return closing(error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &why));
    }
    next.run(request).await
}

/// The bytes of a request's head as HTTP/1.1 sends it: the request line,
/// each header line, and the blank line.
pub(super) fn head_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": ".len() + value.len() + 2)
        .sum();
    line + headers + 2
}

/// Every error is answered in JSON, `{"error": "..."}`, as the handlers
/// answer theirs: this catches the few that the router and its extractors
/// make in plain text or with no body (a method an endpoint does not take,
/// a path that is not UTF-8), keeping their other headers (`Allow`).
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| {
            let t = t.as_bytes();
            t.starts_with(b"application/json") || t.starts_with(b"application/problem+json")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The router's own answers are a line at most.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let why = match text.trim() {
        "" => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
        text => text.to_owned(),
    };
    let (answer, body) = error(status, &why).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(answer.headers);
    Response::from_parts(parts, body)
}

/// One line per request: method, path, status, bytes, time and the token's
/// name (never the token). The path is escaped: it comes from the client.
pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = crate::stderr::escape(request.uri().path()).into_owned();
    let sent = content_length(request.headers());
    let remote = request.extensions().get::<Remote>().map(|r| r.0);
    let response = next.run(request).await;
    let caller = response
        .extensions()
        .get::<Caller>()
        .map(|c| c.name.clone());
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        bytes_in = sent,
        bytes_out = content_length(response.headers()),
        ms = started.elapsed().as_millis() as u64,
        token = caller.as_deref().unwrap_or("-"),
        remote = remote.map(|r| r.to_string()).unwrap_or_default(),
    );
    response
}
