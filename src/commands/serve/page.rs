//! The web page: static files built into the binary (no CDN, no build
//! step), served with a strict Content-Security-Policy. The page signs in
//! with a token and uses the same `/v1` API as any client.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");
const ICON: &str = include_str!("page/icon.svg");

/// Scripts and styles from this server only, none inline; images and media
/// from blob: URLs the script makes from objects it fetched with the token.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Each file's ETag, hashed once: the files change only with the binary.
static INDEX_TAG: LazyLock<String> = LazyLock::new(|| etag_of(INDEX));
static SCRIPT_TAG: LazyLock<String> = LazyLock::new(|| etag_of(SCRIPT));
static STYLE_TAG: LazyLock<String> = LazyLock::new(|| etag_of(STYLE));
static ICON_TAG: LazyLock<String> = LazyLock::new(|| etag_of(ICON));

fn etag_of(body: &str) -> String {
    let digest = hex::encode(crate::hashing::Sha256::digest(body));
    format!("\"{}\"", &digest[..16])
}

pub async fn index(headers: HeaderMap) -> Response {
    serve(&headers, INDEX, &INDEX_TAG, "text/html; charset=utf-8")
}

/// `/favicon.ico`, which browsers ask for on their own: the same icon.
pub async fn icon(headers: HeaderMap) -> Response {
    serve(&headers, ICON, &ICON_TAG, "image/svg+xml")
}

pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match file.as_str() {
        "app.js" => serve(
            &headers,
            SCRIPT,
            &SCRIPT_TAG,
            "text/javascript; charset=utf-8",
        ),
        "style.css" => serve(&headers, STYLE, &STYLE_TAG, "text/css; charset=utf-8"),
        "icon.svg" => serve(&headers, ICON, &ICON_TAG, "image/svg+xml"),
        _ => super::answers::error(StatusCode::NOT_FOUND, "no such file"),
    }
}

/// A file of the page, revalidated by its hash (it changes with the binary).
fn serve(headers: &HeaderMap, body: &'static str, etag: &str, mime: &'static str) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let status = match fresh {
        true => StatusCode::NOT_MODIFIED,
        false => StatusCode::OK,
    };
    let mut response = match fresh {
        true => status.into_response(),
        false => (status, body).into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, etag);
    }
    response
}
