//! One object's upload from its spool: create-only, each part carrying the
//! MD5 the pass computed, several parts at once, aborted if it fails.

use std::io;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use opendal::ErrorKind;

use super::requests::{Unfinished, Uploads};
use super::spool::{PartFailure, Spool, part_len};
use crate::object_id::ObjectId;
use crate::store::Committed;

const PARTS_IN_FLIGHT: usize = 2;
/// Objects larger than this are looked up before they are sent.
const HEAD_FIRST_OVER: u64 = 256 << 10;

/// Why one upload failed.
pub(super) enum UploadFailure {
    /// Looking the object up before sending it (OpenDAL).
    Lookup(opendal::Error),
    Server(anyhow::Error),
    Spool(io::Error),
    /// The input read again for its upload changed since it was hashed.
    Changed,
}

impl From<PartFailure> for UploadFailure {
    fn from(failure: PartFailure) -> Self {
        match failure {
            PartFailure::Io(e) => UploadFailure::Spool(e),
            PartFailure::Changed => UploadFailure::Changed,
        }
    }
}

/// Where one object goes.
pub(super) struct Target {
    pub(super) op: opendal::Operator,
    pub(super) requests: Arc<Uploads>,
    /// The key under the store's prefix, and the whole key in the bucket.
    pub(super) key: String,
    pub(super) full_key: String,
    /// The object's name: what the bytes sent must hash to.
    pub(super) id: ObjectId,
    /// The bytes of request bodies all uploads may hold at once (see
    /// [`BYTES_IN_FLIGHT_KIB`]), shared by every upload of a batch.
    pub(super) budget: Arc<tokio::sync::Semaphore>,
}

/// What all the uploads of a batch hold in memory at once, at most, in
/// request bodies: 24 MiB, in KiB. Sixteen objects at once with two parts
/// each would otherwise hold 160 MiB for a tree of large files; one large
/// file needs two 5 MiB parts in flight to keep the link busy.
pub(super) const BYTES_IN_FLIGHT_KIB: usize = 24 << 10;

/// Waits until `len` more bytes of request bodies may be held (all of the
/// budget at most, for the parts of huge objects, which go alone).
async fn room_for(
    budget: &Arc<tokio::sync::Semaphore>,
    len: u64,
) -> Result<tokio::sync::OwnedSemaphorePermit, UploadFailure> {
    let kib = (len.div_ceil(1024) as usize).clamp(1, BYTES_IN_FLIGHT_KIB) as u32;
    Arc::clone(budget)
        .acquire_many_owned(kib)
        .await
        .map_err(|e| UploadFailure::Server(anyhow!("waiting for room: {e}")))
}

/// Uploads one spooled object under its id, create-only, unless it is
/// stored already. Each part carries the MD5 the pass computed, which the
/// server checks before it keeps the bytes, so what is stored is what was
/// read, whatever happened on the disk of the spool or on the way; no HEAD
/// after the upload is needed. A failed multipart upload is aborted, so no
/// unfinished upload is left behind.
pub(super) async fn upload(target: Target, mut spool: Spool) -> Result<Committed, UploadFailure> {
    match send(&target, &mut spool).await {
        Err(UploadFailure::Changed) => Ok(Committed::Changed),
        sent => sent,
    }
}

async fn send(target: &Target, spool: &mut Spool) -> Result<Committed, UploadFailure> {
    // A HEAD first spares re-sending a large object's bytes; a small one
    // costs less to send than the round trip, and create-only still
    // refuses it if stored.
    if spool.written > HEAD_FIRST_OVER {
        match target.op.stat(&target.key).await {
            Ok(_) => return Ok(Committed::AlreadyPresent),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(UploadFailure::Lookup(e)),
        }
    }
    let parts = spool.rewind().map_err(UploadFailure::Spool)?;
    let requests = &target.requests;
    if parts == 1 {
        let _room = room_for(&target.budget, spool.written).await?;
        let (body, md5) = spool.read_part(0)?;
        spool.check_read_again(&target.id)?;
        let created = requests.put_new(&target.full_key, body, md5).await;
        return match created.map_err(UploadFailure::Server)? {
            true => Ok(Committed::New),
            // Another machine stored the same content first.
            false => Ok(Committed::AlreadyPresent),
        };
    }
    let upload = Unfinished {
        upload_id: requests
            .begin_multipart(&target.full_key)
            .await
            .map_err(UploadFailure::Server)?,
        key: target.full_key.clone(),
        initiated: None,
    };
    match upload_parts(requests, &upload, spool, parts, target).await {
        Ok(true) => Ok(Committed::New),
        Ok(false) => Ok(Committed::AlreadyPresent),
        Err(e) => {
            let _ = requests.abort(&upload).await;
            Err(e)
        }
    }
}

/// Sends every part, [`PARTS_IN_FLIGHT`] at once, then completes the
/// upload (once what was read is known to be object `id`); false when the
/// key was stored meanwhile.
async fn upload_parts(
    requests: &Arc<Uploads>,
    upload: &Unfinished,
    spool: &mut Spool,
    parts: usize,
    target: &Target,
) -> Result<bool, UploadFailure> {
    let mut etags = vec![String::new(); parts];
    let mut in_flight = tokio::task::JoinSet::new();
    for index in 0..parts {
        if in_flight.len() >= PARTS_IN_FLIGHT {
            take_part(&mut in_flight, &mut etags).await?;
        }
        let room = room_for(&target.budget, part_len(index)).await?;
        let (body, md5) = spool.read_part(index)?;
        let (requests, upload) = (Arc::clone(requests), upload.clone());
        in_flight.spawn(async move {
            let etag = requests.put_part(&upload, index + 1, body, md5).await;
            drop(room);
            (index, etag)
        });
    }
    while !in_flight.is_empty() {
        take_part(&mut in_flight, &mut etags).await?;
    }
    spool.check_read_again(&target.id)?;
    requests
        .complete_new(upload, &etags)
        .await
        .map_err(UploadFailure::Server)
}

/// Waits for the next part to finish and keeps its ETag.
async fn take_part(
    in_flight: &mut tokio::task::JoinSet<(usize, Result<String>)>,
    etags: &mut [String],
) -> Result<(), UploadFailure> {
    match in_flight.join_next().await {
        Some(Ok((index, Ok(etag)))) => {
            etags[index] = etag;
            Ok(())
        }
        Some(Ok((index, Err(e)))) => Err(UploadFailure::Server(
            e.context(format!("part {}", index + 1)),
        )),
        Some(Err(panic)) => Err(UploadFailure::Server(anyhow!(
            "a part's upload failed: {panic}"
        ))),
        None => Ok(()),
    }
}
