//! Removal from the server: `DELETE /v1/entries/ID` moves an entry to the
//! trash, `GET /v1/trash` lists the trash, `POST /v1/trash/ID/restore`
//! puts an entry back. Each needs a token of the delete scope, and runs
//! the library's removal under the store's exclusion of writers (the
//! server's own uploads wait, as other writers do).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::Shared;
use super::answers::{blocking, error};
use super::auth::{Caller, may_delete};
use crate::manifest::{Entry, Identity};
use crate::removal::{self, Disposal};
use crate::trash::{self, entry_id, parse_entry_id};

/// How long a removal waits for the writers at work (uploads, a cron
/// run) before it answers 503.
const WAIT: Duration = Duration::from_secs(10);

/// What a failure of the store is answered with (the cause is logged).
const CHANGED: &str = "the store could not be changed";

/// `DELETE /v1/entries/ID`: the entry goes to the trash; its object stays.
pub(super) async fn delete_entry(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let id = match allowed(&caller, &id) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let removed = blocking(
        move || {
            let picks = |entry: &Entry| entry.identity() == id;
            removal::remove(shared.view.as_ref(), &picks, Disposal::Trash, false, WAIT)
        },
        CHANGED,
    );
    match removed.await {
        Ok(removal) if removal.entries.is_empty() => {
            error(StatusCode::NOT_FOUND, "no such entry in the store")
        }
        Ok(removal) => {
            tracing::info!(
                "{} moved {} entries to the trash ({})",
                caller.name,
                removal.entries.len(),
                removal.trashed.as_deref().unwrap_or("")
            );
            Json(json!({
                "trashed": removal.entries.iter().map(shown).collect::<Vec<_>>(),
            }))
            .into_response()
        }
        Err(answer) => answer,
    }
}

/// `GET /v1/trash`: every trashed entry, the latest removal first.
pub(super) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Err(answer) = may_delete(&caller) {
        return answer;
    }
    let records = blocking(move || shared.view.trash(), CHANGED).await;
    match records {
        Ok(records) => {
            let entries: Vec<serde_json::Value> = records
                .iter()
                .rev()
                .flat_map(|record| {
                    record.entries.iter().map(|entry| {
                        let mut value = shown(entry);
                        value["trashed"] = json!(record.at.to_string());
                        value
                    })
                })
                .collect();
            Json(json!({ "entries": entries })).into_response()
        }
        Err(answer) => answer,
    }
}

/// `POST /v1/trash/ID/restore`: the entry goes back into the manifest.
pub(super) async fn restore(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let id = match allowed(&caller, &id) {
        Ok(id) => id,
        Err(answer) => return answer,
    };
    let restored = blocking(
        move || {
            let _excluded = shared.view.exclude_writers(WAIT)?;
            trash::restore(shared.view.as_ref(), &|entry| entry.identity() == id)
        },
        CHANGED,
    );
    match restored.await {
        Ok(outcome) if !outcome.missing.is_empty() => error(
            StatusCode::CONFLICT,
            "the entry's object is gone: it cannot be restored",
        ),
        Ok(outcome) if outcome.entries.is_empty() => {
            error(StatusCode::NOT_FOUND, "no such entry in the trash")
        }
        Ok(outcome) => {
            tracing::info!("{} restored {} entries", caller.name, outcome.entries.len());
            Json(json!({
                "restored": outcome.entries.iter().map(shown).collect::<Vec<_>>(),
            }))
            .into_response()
        }
        Err(answer) => answer,
    }
}

/// The caller may delete, and `id` is an entry id.
fn allowed(caller: &Caller, id: &str) -> Result<Identity, Response> {
    may_delete(caller)?;
    parse_entry_id(id).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("{e:#}")))
}

/// An entry as the API shows it, with its id.
fn shown(entry: &Entry) -> serde_json::Value {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    value["id"] = json!(entry_id(entry));
    value["kind"] = json!(crate::media_type::Kind::of(&entry.mime).name());
    value
}
