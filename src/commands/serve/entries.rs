//! `GET /v1/entries`: pages of the manifest, newest first, filtered.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Shared;
use super::answers::error;
use crate::manifest::{Entry, Line};
use crate::policy::MimePattern;

#[derive(Debug, Deserialize)]
pub(super) struct EntriesQuery {
    /// A type or pattern (image/*).
    #[serde(rename = "type")]
    mime: Option<String>,
    /// Part of the name, any case.
    name: Option<String>,
    /// Stored at or after: an RFC 3339 time, or a prefix of one ending at
    /// a field (2026, 2026-11, 2026-11-01, 2026-11-01T12, 2026-11-01T12:30).
    since: Option<String>,
    /// Stored before; the same forms.
    until: Option<String>,
    /// image, video, audio, document or other: what the page filters by.
    kind: Option<String>,
    cursor: Option<u64>,
    limit: Option<usize>,
}

/// Every kind [`kind_of`] gives, for checking a filter.
pub(super) const KINDS: [&str; 5] = ["image", "video", "audio", "document", "other"];

/// What a type is, as the page groups them: image, video, audio,
/// document or other.
pub fn kind_of(mime: &str) -> &'static str {
    let document = mime == "application/pdf"
        || mime.starts_with("text/")
        || ["document", "msword", "spreadsheet", "presentation"]
            .iter()
            .any(|k| mime.contains(k));
    match mime.split('/').next() {
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ if document => "document",
        _ => "other",
    }
}

/// The most entries one page holds.
pub(super) const MAX_PAGE: usize = 1000;

/// `GET /v1/entries`: the newest first, a page at a time; `next` is the
/// cursor of the page after.
pub(super) async fn entries(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<EntriesQuery>, QueryRejection>,
) -> Response {
    let filter = match query {
        Ok(Query(query)) => EntriesFilter::new(query),
        Err(rejection) => Err(rejection.body_text()),
    };
    let filter = match filter {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    // A crowd of listings waits here, leaving the blocking pool to others.
    let Ok(_permit) = Arc::clone(&shared.listings).acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    let page = tokio::task::spawn_blocking(move || entries_page(&shared, &filter)).await;
    match page {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(e)) => {
            tracing::error!("reading the manifest: {e:#}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the manifest could not be read",
            )
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// An entries query, checked: a filter that cannot match anything is the
/// client's mistake, said as such, never an empty page.
pub(super) struct EntriesFilter {
    query: EntriesQuery,
    mime: Option<MimePattern>,
    /// Lower-cased part of a name.
    needle: Option<String>,
    /// Bounds in the manifest's own form (RFC 3339, UTC, to the second),
    /// so they compare with its dates as text.
    since: Option<String>,
    until: Option<String>,
}

impl EntriesFilter {
    fn new(query: EntriesQuery) -> Result<Self, String> {
        let mime = query
            .mime
            .as_deref()
            .map(str::parse::<MimePattern>)
            .transpose()
            .map_err(|e| format!("type: {e:#}"))?;
        if let Some(kind) = query.kind.as_deref()
            && !KINDS.contains(&kind)
        {
            return Err(format!("kind: {kind:?} is none of {}", KINDS.join(", ")));
        }
        let bound = |name: &str, text: Option<&str>| {
            text.map(|text| time_bound(text).map_err(|why| format!("{name}: {why}")))
                .transpose()
        };
        Ok(EntriesFilter {
            mime,
            needle: query.name.as_deref().map(str::to_lowercase),
            since: bound("since", query.since.as_deref())?,
            until: bound("until", query.until.as_deref())?,
            query,
        })
    }

    fn fits(&self, entry: &Entry) -> bool {
        let at = entry.ingested_at.as_str();
        self.mime.as_ref().is_none_or(|m| m.matches(&entry.mime))
            && (self.query.kind.as_deref()).is_none_or(|k| kind_of(&entry.mime) == k)
            && (self.needle.as_deref()).is_none_or(|n| entry.name.to_lowercase().contains(n))
            && self.since.as_deref().is_none_or(|since| at >= since)
            && self.until.as_deref().is_none_or(|until| at < until)
    }
}

/// A date bound ([`crate::manifest::parse_date_bound`]) as the manifest
/// writes dates (`2026-11-01T00:00:00Z`), so the two compare as text: a
/// part second is taken to the next whole one, the manifest's dates being
/// whole seconds.
pub(super) fn time_bound(text: &str) -> Result<String, String> {
    let at = crate::manifest::parse_date_bound(text)?;
    let second = jiff::TimestampRound::new()
        .smallest(jiff::Unit::Second)
        .mode(jiff::RoundMode::Ceil);
    at.round(second)
        .map(|at| at.to_string())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// One page, read in one pass over the manifest, keeping only the page's
/// entries (the newest matching ones below the cursor).
pub(super) fn entries_page(
    shared: &Shared,
    filter: &EntriesFilter,
) -> anyhow::Result<serde_json::Value> {
    let query = &filter.query;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let fits = |entry: &Entry| filter.fits(entry);
    // One more than a page, to know whether another follows.
    let mut newest: VecDeque<(u64, Entry)> = VecDeque::with_capacity(limit + 1);
    for (index, line) in shared.view.entries()?.enumerate() {
        let index = index as u64;
        if query.cursor.is_some_and(|cursor| index >= cursor) {
            break;
        }
        let Line::Value(entry) = line? else { continue };
        if fits(&entry) {
            if newest.len() > limit {
                newest.pop_front();
            }
            newest.push_back((index, entry));
        }
    }
    let more = newest.len() > limit;
    if more {
        newest.pop_front();
    }
    let next = more.then(|| newest.front().map(|(index, _)| index.to_string()));
    let entries: Vec<serde_json::Value> = newest
        .into_iter()
        .rev()
        .map(|(index, entry)| {
            let mut value = serde_json::to_value(&entry).unwrap_or_default();
            value["id"] = json!(index);
            // The page groups by this; it is the one definition of a kind.
            value["kind"] = json!(kind_of(&entry.mime));
            value
        })
        .collect();
    Ok(json!({ "entries": entries, "next": next.flatten() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_take_the_manifests_form() {
        assert_eq!(time_bound("2026-11").unwrap(), "2026-11-01T00:00:00Z");
        assert_eq!(
            time_bound("2026-11-05T12:30:00+02:00").unwrap(),
            "2026-11-05T10:30:00Z"
        );
        // The manifest's dates are whole seconds.
        assert_eq!(
            time_bound("2026-11-05T12:30:00.25Z").unwrap(),
            "2026-11-05T12:30:01Z"
        );
        assert!(time_bound("yesterday").is_err());
    }
}
