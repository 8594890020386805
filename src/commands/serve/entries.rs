//! `GET /v1/entries`: pages of the manifest, newest first, filtered.

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
use crate::manifest::Entry;
use crate::media_type::Kind;
use crate::policy::MimePattern;
use crate::store::{EntryQuery, month_of};

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
    /// The start of a recorded path (`Photos/2019/`): a folder's entries.
    path: Option<String>,
    cursor: Option<u64>,
    limit: Option<usize>,
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
    kind: Option<Kind>,
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
        let kind = match query.kind.as_deref() {
            None => None,
            Some(name) => Some(Kind::named(name).ok_or_else(|| {
                let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("kind: {name:?} is none of {}", kinds.join(", "))
            })?),
        };
        let bound = |name: &str, text: Option<&str>| {
            text.map(|text| time_bound(text).map_err(|why| format!("{name}: {why}")))
                .transpose()
        };
        Ok(EntriesFilter {
            kind,
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
            && self.kind.is_none_or(|k| Kind::of(&entry.mime) == k)
            && (self.needle.as_deref()).is_none_or(|n| entry.name.to_lowercase().contains(n))
            && self.query.path.as_deref().is_none_or(|prefix| {
                entry
                    .path_bytes()
                    .as_encoded_bytes()
                    .starts_with(prefix.as_bytes())
            })
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

impl EntriesFilter {
    /// What the store's catalog can narrow the page by.
    fn narrowed(&self) -> EntryQuery {
        let month = |bound: &Option<String>| bound.as_deref().map(month_of);
        // Until the first instant of a month is until the end of the one
        // before: one month asked as a month (2026-03 to 2026-04) is one
        // month to the catalog, which walks it newest first by its index.
        let until = self
            .until
            .as_deref()
            .map(|until| match until.ends_with("-01T00:00:00Z") {
                true => previous_month(month_of(until)),
                false => month_of(until),
            });
        let months = match (month(&self.since), until) {
            (None, None) => None,
            (since, until) => Some((since.unwrap_or(0), until.unwrap_or(u32::MAX))),
        };
        EntryQuery {
            before: self.query.cursor,
            kind: self.kind,
            months,
            name_part: self.needle.clone(),
            mime: self.mime.as_ref().map(|m| m.as_str().to_owned()),
        }
    }
}

/// The month before `yyyymm`.
fn previous_month(yyyymm: u32) -> u32 {
    match yyyymm % 100 {
        0 => 0,
        1 => (yyyymm / 100 - 1) * 100 + 12,
        _ => yyyymm - 1,
    }
}

/// One page: the newest matching entries below the cursor, from the
/// store's catalog (or, without one, a pass over the manifest).
pub(super) fn entries_page(
    shared: &Shared,
    filter: &EntriesFilter,
) -> anyhow::Result<serde_json::Value> {
    let limit = filter.query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    // One more than a page, to know whether another follows.
    let mut newest =
        shared
            .view
            .newest_entries(&filter.narrowed(), &|entry| filter.fits(entry), limit + 1)?;
    let more = newest.len() > limit;
    newest.truncate(limit);
    let next = if more {
        newest.last().map(|(line, _)| line.to_string())
    } else {
        None
    };
    let entries: Vec<serde_json::Value> = newest
        .into_iter()
        .map(|(line, entry)| {
            let mut value = serde_json::to_value(&entry).unwrap_or_default();
            value["id"] = json!(crate::trash::entry_id(&entry));
            value["line"] = json!(line);
            // The page groups by this; it is the one definition of a kind.
            value["kind"] = json!(Kind::of(&entry.mime).name());
            value
        })
        .collect();
    Ok(json!({ "entries": entries, "next": next }))
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
