//! Bearer tokens on every request but the health check: read from the
//! headers alone (nothing of the body is read for a refused request),
//! compared in constant time, never logged.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::answers::error;
use crate::tokens::{Scope, Tokens};

/// The tokens file, read again whenever it changes, so `ingest token add`
/// and `rm` take effect without a restart.
pub struct TokenFile {
    path: PathBuf,
    loaded: Mutex<(Option<SystemTime>, Arc<Tokens>)>,
}

impl TokenFile {
    pub fn new(path: PathBuf) -> Self {
        TokenFile {
            path,
            loaded: Mutex::new((None, Arc::new(Tokens::default()))),
        }
    }

    /// The tokens as the file holds them now; if it cannot be read, none
    /// (every request is refused, rather than the old tokens kept).
    fn current(&self) -> Arc<Tokens> {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let Ok(mut loaded) = self.loaded.lock() else {
            return Arc::new(Tokens::default());
        };
        if loaded.0.is_none() || loaded.0 != modified {
            let tokens = Tokens::load(&self.path).unwrap_or_else(|e| {
                tracing::error!("{e:#}");
                Tokens::default()
            });
            *loaded = (modified, Arc::new(tokens));
        }
        Arc::clone(&loaded.1)
    }
}

/// Who made a request: the name of its token and what it may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub scope: Scope,
}

/// Lets a request through with a valid token, as a [`Caller`] in its
/// extensions; else 401 before its body is read.
pub async fn require_token(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(presented) = bearer(request.headers()) else {
        return refuse("this needs a token: Authorization: Bearer TOKEN");
    };
    let tokens = shared.tokens.current();
    let Some(token) = tokens.find(presented) else {
        return refuse("this token is not known here");
    };
    let caller = Caller {
        name: token.name.clone(),
        scope: token.scope,
    };
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    // For the request's log line, which sees only the response.
    response.extensions_mut().insert(caller);
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn refuse(why: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, why);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"ingest\""),
    );
    // The body is not read: the connection cannot be reused.
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response.into_response()
}

/// Whether the caller may upload; a read-only token gets 403.
pub fn may_write(caller: &Caller) -> Result<(), Response> {
    match caller.scope >= Scope::ReadWrite {
        true => Ok(()),
        false => Err(error(
            StatusCode::FORBIDDEN,
            "this token may read, not upload",
        )),
    }
}

/// Whether the caller may move entries to the trash and back; any other
/// token gets 403.
pub fn may_delete(caller: &Caller) -> Result<(), Response> {
    match caller.scope >= Scope::Delete {
        true => Ok(()),
        false => Err(error(
            StatusCode::FORBIDDEN,
            "this token may not delete (ingest token add NAME --scope delete)",
        )),
    }
}
