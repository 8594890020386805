// The page of `ingest serve`: sign in with a token, upload by dropping
// files, browse the store newest first. Every string from the store goes
// into the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 60;
/// Types a browser draws as an <img>: everything else gets a placeholder.
const DRAWN = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"];
/// Types played in the page.
const PLAYED = /^(video\/(mp4|webm|ogg)|audio\/(mpeg|mp4|ogg|wav|webm|flac))$/;

let token = sessionStorage.getItem("ingest-token");
let cursor = null;
let loading = false;
let generation = 0;
let mayDelete = false;
/// The folder the grid is narrowed to (a recorded path's prefix), if any.
let folder = "";
/// The entry the viewer shows.
let shownEntry = null;
const urls = new Set();

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function when(text) {
  const date = new Date(text);
  return isNaN(date) ? text : date.toLocaleString();
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) { signOut("This token is not accepted any more."); throw new Error("401"); }
  return response;
}

/// An object as a blob: URL (an <img> cannot send the token itself).
async function objectUrl(sha256) {
  const response = await api("/v1/objects/" + sha256);
  if (!response.ok) throw new Error("object " + response.status);
  return blobUrl(response);
}

/// A picture for the grid: a JPEG's own small thumbnail when the camera
/// kept one (at most 64 KiB instead of the whole photo), else the object.
async function thumbUrl(sha256, mime) {
  if (mime === "image/jpeg") {
    const response = await api("/v1/objects/" + sha256 + "/thumbnail");
    if (response.ok) return blobUrl(response);
  }
  return objectUrl(sha256);
}

async function blobUrl(response) {
  const url = URL.createObjectURL(await response.blob());
  urls.add(url);
  return url;
}

// ---- signing in

function signOut(why) {
  token = null;
  sessionStorage.removeItem("ingest-token");
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("show-trash").hidden = true;
  $("trash-view").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = why || "";
  $("token").focus();
}

async function start() {
  const response = await fetch("/v1/limits", { headers: { Authorization: "Bearer " + token } });
  if (!response.ok) { signOut(response.status === 401 ? "This token is not accepted." : "The server said " + response.status + "."); return; }
  const limits = await response.json();
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  const scope = limits.token.scope;
  $("who").textContent = limits.token.name + (scope === "read" ? " (read only)" : "");
  // Scopes include those before them: delete may upload too.
  $("upload").hidden = scope === "read";
  mayDelete = scope === "delete";
  $("show-trash").hidden = !mayDelete;
  offerResume();
  reload();
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  $("token").value = "";
  sessionStorage.setItem("ingest-token", token);
  start();
});
$("sign-out").addEventListener("click", () => signOut());

// ---- uploading

/// Files at least this large go up resumably (tus), in pieces of CHUNK.
const RESUMABLE = 4 << 20;
const CHUNK = Number(localStorage.getItem("ingest-chunk")) || (16 << 20);
/// Waits between tries after a lost connection, then the last one again.
const BACKOFF = [1000, 2000, 4000, 8000, 15000, 30000];

function uploadOne(file) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": "Progress" });
  const result = el("span", { class: "result", text: "waiting" });
  const actions = el("span", { class: "actions" });
  const row = el("li", { class: "upload" }, el("span", { class: "name", text: file.name }), bar, result, actions);
  $("uploads").prepend(row);
  const finish = (report, httpStatus) => {
    bar.value = 100;
    const status = report.status || "failed";
    result.className = "result " + status;
    result.textContent = describe(report.status ? report : { status: "failed", error: "HTTP " + httpStatus });
    row.dataset.status = status;
    actions.replaceChildren();
  };
  if (file.size >= RESUMABLE) return () => resumable(file, row, bar, result, actions, finish);
  return () => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    // A file from a chosen or dropped folder keeps its place in it.
    xhr.open("PUT", "/v1/files/" + encodeURIComponent(pathOf(file)));
    xhr.setRequestHeader("Authorization", "Bearer " + token);
    if (file.type) xhr.setRequestHeader("Content-Type", file.type);
    result.textContent = "uploading";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = () => {
      let report = {};
      try { report = JSON.parse(xhr.responseText); } catch (_) { report = {}; }
      finish(report, xhr.status);
      resolve();
    };
    xhr.onerror = () => {
      result.className = "result failed";
      result.textContent = "failed: the connection broke";
      row.dataset.status = "failed";
      resolve();
    };
    xhr.send(file);
  });
}

/// Where an unfinished resumable upload of this file is kept, to go on
/// from after a reload: the same name, size and date make the same file.
function resumeKey(file) {
  return "ingest-tus:" + [pathOf(file), file.size, file.lastModified].join(":");
}

/// A tus request: its XHR (to abort) and its answer, `status` 0 for a
/// broken connection and -1 for an abort.
function tusSend(method, url, headers, body, onProgress) {
  const xhr = new XMLHttpRequest();
  xhr.open(method, url);
  xhr.setRequestHeader("Authorization", "Bearer " + token);
  xhr.setRequestHeader("Tus-Resumable", "1.0.0");
  for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
  if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
  const done = new Promise((resolve) => {
    xhr.onload = () => resolve({ status: xhr.status, xhr });
    xhr.onerror = () => resolve({ status: 0, xhr });
    xhr.onabort = () => resolve({ status: -1, xhr });
  });
  xhr.send(body === undefined ? null : body);
  return { xhr, done };
}

function tusRequest(method, url, headers) {
  return tusSend(method, url, headers).done;
}

function b64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/// A large file, sent through tus: created once (its URL kept in this
/// browser), then piece by piece from the offset the server has; a lost
/// connection retries with backoff from the server's offset; the row can
/// pause, resume or cancel it.
function resumable(file, row, bar, result, actions, finish) {
  return new Promise((resolve) => {
    const key = resumeKey(file);
    let url = localStorage.getItem(key);
    let paused = false, cancelled = false, tries = 0, current = null;
    const pause = el("button", { type: "button", class: "pause", text: "Pause" });
    const cancel = el("button", { type: "button", class: "cancel", text: "Cancel" });
    actions.replaceChildren(pause, cancel);
    row.dataset.resumable = "1";
    const say = (text) => { result.className = "result"; result.textContent = text; };
    pause.addEventListener("click", () => {
      if (!paused) {
        paused = true;
        pause.textContent = "Resume";
        if (current) current.abort();
        say("paused at " + bar.value + "%");
        row.dataset.state = "paused";
      } else {
        paused = false;
        pause.textContent = "Pause";
        row.dataset.state = "";
        step();
      }
    });
    cancel.addEventListener("click", async () => {
      cancelled = true;
      if (current) current.abort();
      // The piece just aborted may still hold the upload on the server
      // for a moment (423): ask again shortly.
      for (let i = 0; url && i < 20; i++) {
        const gone = await tusRequest("DELETE", url, {});
        if (gone.status !== 423) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      localStorage.removeItem(key);
      result.className = "result failed";
      result.textContent = "cancelled";
      row.dataset.status = "cancelled";
      actions.replaceChildren();
      resolve();
    });
    const retry = (why) => {
      const wait = BACKOFF[Math.min(tries, BACKOFF.length - 1)];
      tries++;
      say(why + "; trying again in " + Math.round(wait / 1000) + " s");
      row.dataset.state = "retrying";
      setTimeout(() => { if (!paused && !cancelled) step(); }, wait);
    };
    const done = (report, status) => {
      localStorage.removeItem(key);
      finish(report, status);
      resolve();
    };
    async function step() {
      if (paused || cancelled) return;
      let offset = 0;
      if (url) {
        const head = await tusRequest("HEAD", url, {});
        if (head.status === 0) return retry("the connection broke");
        if (head.status === 404) { url = null; localStorage.removeItem(key); }
        else if (head.status >= 200 && head.status < 300) {
          offset = Number(head.xhr.getResponseHeader("Upload-Offset"));
          // Where the server had it when this went on.
          row.dataset.resumedFrom = String(offset);
        } else {
          let report = {};
          try { report = JSON.parse(head.xhr.responseText); } catch (_) { report = {}; }
          const files = report.files || [report];
          return done(files[0].status ? files[0] : { status: "failed", error: report.error || "HTTP " + head.status }, head.status);
        }
      }
      if (!url) {
        const meta = "filename " + b64(file.name) + (file.type ? ",filetype " + b64(file.type) : "") +
          (pathOf(file) !== file.name ? ",relativePath " + b64(pathOf(file)) : "");
        const made = await tusRequest("POST", "/v1/tus/", { "Upload-Length": String(file.size), "Upload-Metadata": meta });
        if (made.status === 0) return retry("the connection broke");
        if (made.status !== 201) {
          let report = {};
          try { report = JSON.parse(made.xhr.responseText); } catch (_) { report = {}; }
          return done(report.status ? report : { status: report.reason ? "rejected" : "failed", error: report.error || "HTTP " + made.status }, made.status);
        }
        url = made.xhr.getResponseHeader("Location");
        localStorage.setItem(key, url);
      }
      while (offset < file.size || file.size === 0) {
        if (paused || cancelled) return;
        say("uploading");
        row.dataset.state = "uploading";
        const end = Math.min(offset + CHUNK, file.size);
        const base = offset;
        const sent = tusSend("PATCH", url, { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" },
          file.slice(offset, end), (loaded) => { bar.value = Math.round(100 * (base + loaded) / file.size); });
        current = sent.xhr;
        const answer = await sent.done;
        current = null;
        if (answer.status === -1) return; // paused or cancelled
        if (answer.status === 0 || answer.status === 409 || answer.status === 423 || answer.status >= 500 && answer.status !== 507) {
          return retry(answer.status === 0 ? "the connection broke" : "the server said " + answer.status);
        }
        if (answer.status !== 204) {
          let report = {};
          try { report = JSON.parse(answer.xhr.responseText); } catch (_) { report = {}; }
          return done(report.status ? report : { status: "failed", error: report.error || "HTTP " + answer.status }, answer.status);
        }
        tries = 0;
        offset = Number(answer.xhr.getResponseHeader("Upload-Offset"));
        const stored = answer.xhr.getResponseHeader("X-Ingest-Status");
        if (stored) {
          return done({ status: stored, sha256: answer.xhr.getResponseHeader("X-Ingest-Sha256") }, 200);
        }
        if (file.size === 0) break;
      }
    }
    step();
  });
}

function describe(report) {
  switch (report.status) {
    case "new": return "stored";
    case "duplicate": return "already stored" + (report.stored_since ? " since " + when(report.stored_since) : "");
    case "rejected": return (report.error || "rejected").replace(/^rejected: /, "rejected: ");
    default: return "failed: " + (report.error || "unknown error");
  }
}
async function uploadAll(files) {
  const jobs = Array.from(files, uploadOne);
  // A few at a time; a failed one does not stop the rest.
  const workers = Array.from({ length: Math.min(3, jobs.length) }, async () => {
    while (jobs.length) await jobs.shift()();
  });
  await Promise.all(workers);
  offerResume();
  reload();
}

/// Unfinished resumable uploads from before (a closed tab): named, so the
/// same files can be chosen again and go on where they stopped.
function offerResume() {
  const names = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    // ingest-tus:PATH:SIZE:DATE, where the path may hold colons itself.
    if (key && key.startsWith("ingest-tus:")) {
      const end = key.lastIndexOf(":", key.lastIndexOf(":") - 1);
      names.push(key.slice("ingest-tus:".length, end));
    }
  }
  $("unfinished").hidden = names.length === 0;
  $("unfinished-names").textContent = names.join(", ");
}

$("files").addEventListener("change", (event) => { uploadAll(event.target.files); event.target.value = ""; });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  // Folders dropped are walked, each file with its path in them.
  const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (entries.some((entry) => entry.isDirectory)) uploadAll(await filesOf(entries, ""));
  else uploadAll(e.dataTransfer.files);
});
$("folder").addEventListener("change", (event) => { uploadAll(event.target.files); event.target.value = ""; });

/// Where a file stood in the folder it came with (chosen or dropped), or
/// its name.
function pathOf(file) {
  return file.relativePath || file.webkitRelativePath || file.name;
}

/// The files below dropped entries, each told its path.
async function filesOf(entries, prefix) {
  const files = [];
  for (const entry of entries) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      Object.defineProperty(file, "relativePath", { value: prefix + entry.name });
      files.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      const children = [];
      do {
        batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        children.push(...batch);
      } while (batch.length);
      files.push(...await filesOf(children, prefix + entry.name + "/"));
    }
  }
  return files;
}

// ---- browsing

const thumbs = new IntersectionObserver((seen) => {
  for (const entry of seen) {
    if (!entry.isIntersecting) continue;
    thumbs.unobserve(entry.target);
    const holder = entry.target;
    thumbUrl(holder.dataset.sha256, holder.dataset.mime).then((url) => {
      const img = el("img", { alt: "", src: url });
      holder.replaceChildren(img);
    }).catch(() => {});
  }
}, { rootMargin: "300px" });

const more = new IntersectionObserver((seen) => {
  if (seen.some((e) => e.isIntersecting) && cursor !== null) loadPage();
});
more.observe($("more"));

function query() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if ($("kind").value) params.set("kind", $("kind").value);
  if ($("search").value.trim()) params.set("name", $("search").value.trim());
  if ($("month").value) {
    const [y, m] = $("month").value.split("-").map(Number);
    const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
    params.set("until", next);
  }
  if (folder) params.set("path", folder);
  if (cursor !== null) params.set("cursor", cursor);
  return params;
}

function reload() {
  generation++;
  cursor = null;
  for (const url of urls) URL.revokeObjectURL(url);
  urls.clear();
  $("grid").replaceChildren();
  loadPage(true);
}

async function loadPage(first) {
  if (loading && !first) return;
  loading = true;
  const mine = generation;
  try {
    const response = await api("/v1/entries?" + query());
    const page = await response.json();
    if (mine !== generation) return;
    for (const entry of page.entries) $("grid").append(item(entry));
    cursor = page.next;
    const shown = $("grid").children.length;
    const filtered = $("kind").value || $("search").value.trim() || $("month").value || folder;
    $("status").textContent = shown > 0 ? ""
      : filtered ? "Nothing matches these filters." : "Nothing here yet: upload a file above.";
    $("clear").hidden = !(shown === 0 && filtered);
    markSame();
    document.body.dataset.drawn = String(Date.now());
  } catch (e) {
    if (e.message !== "401") $("status").textContent = "Could not load the entries: " + e.message;
  } finally {
    loading = false;
  }
}

/// Tiles of the same bytes under other names: each says how many names
/// its bytes have among those shown (one object, stored once).
function markSame() {
  const tiles = [...$("grid").querySelectorAll(".item")];
  const names = new Map();
  for (const tile of tiles) names.set(tile.dataset.sha256, (names.get(tile.dataset.sha256) || 0) + 1);
  for (const tile of tiles) {
    const n = names.get(tile.dataset.sha256);
    let mark = tile.querySelector(".same");
    if (n < 2) { if (mark) mark.remove(); continue; }
    if (!mark) { mark = el("span", { class: "same" }); tile.append(mark); }
    mark.textContent = "×" + n;
    mark.title = "The same file under " + n + " names: stored once";
  }
}

function item(entry) {
  const kind = entry.kind;
  const thumb = el("span", { class: "thumb" });
  if (DRAWN.includes(entry.mime)) {
    thumb.dataset.sha256 = entry.sha256;
    thumb.dataset.mime = entry.mime;
    thumbs.observe(thumb);
  } else {
    thumb.append(badge(entry));
  }
  const from = entry.origin && entry.origin.kind === "mms" && entry.origin.address
    ? " · from " + entry.origin.address : "";
  const button = el("button", { type: "button", class: "item", "data-kind": kind, "data-sha256": entry.sha256, "data-id": entry.id },
    thumb,
    el("span", { class: "name", text: entry.name }),
    el("span", { class: "meta", text: size(entry.size) + " · " + when(entry.ingested_at).split(",")[0] + from }));
  button.addEventListener("click", () => open(entry));
  return el("li", {}, button);
}

/// A placeholder for what the browser does not draw: the type's extension
/// in the kind's colour, and the type in words.
function badge(entry) {
  const ext = (entry.ext || "?").toUpperCase().slice(0, 5);
  return el("span", { class: "badge", "data-kind": entry.kind },
    el("span", { class: "ext", text: ext }), el("span", { class: "type", text: entry.mime }));
}

async function open(entry) {
  shownEntry = entry;
  $("delete").hidden = !mayDelete;
  $("confirm").hidden = true;
  $("viewer-name").textContent = entry.name;
  const media = $("viewer-media");
  media.replaceChildren(badge(entry));
  const details = [
    ["Type", entry.mime],
    ["Size", size(entry.size) + " (" + entry.size + " bytes)"],
    ["SHA-256", entry.sha256],
    ["Stored", when(entry.ingested_at)],
    ["Source", entry.source],
  ];
  if (entry.declared_mime) details.push(["Declared", entry.declared_mime]);
  const origin = entry.origin || {};
  if (origin.kind === "mms") {
    if (origin.address) details.push(["From", origin.address]);
    if (origin.date) details.push(["Sent", new Date(origin.date).toLocaleString()]);
  }
  if (origin.kind === "http" && origin.token) details.push(["Uploaded with", origin.token]);
  const where = (entry.path || "").split("/").slice(0, -1);
  const others = [...$("grid").querySelectorAll(".item")]
    .filter((t) => t.dataset.sha256 === entry.sha256)
    .map((t) => t.querySelector(".name").textContent)
    .filter((name, i, all) => name !== entry.name && all.indexOf(name) === i);
  if (others.length) details.push(["Same file as", others.join(", ")]);
  $("details").replaceChildren(...details.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  // Its folders, each one a way to see that folder's entries.
  if (where.length) {
    const crumbs = el("dd", { class: "crumbs" });
    where.forEach((part, i) => {
      const link = el("button", { type: "button", class: "crumb", text: part });
      link.addEventListener("click", () => {
        $("viewer").close();
        showFolder(where.slice(0, i + 1).join("/") + "/");
      });
      if (i > 0) crumbs.append(" / ");
      crumbs.append(link);
    });
    $("details").append(el("dt", { text: "Folder" }), crumbs);
  }
  const link = $("download");
  link.removeAttribute("href");
  link.textContent = "Preparing download…";
  $("viewer").showModal();
  try {
    const url = await objectUrl(entry.sha256);
    link.href = url;
    link.download = entry.name;
    link.textContent = "Download";
    // HTML, SVG and the like are never shown inline: downloaded only.
    if (DRAWN.includes(entry.mime)) media.replaceChildren(el("img", { src: url, alt: entry.name }));
    else if (PLAYED.test(entry.mime)) {
      const tag = entry.mime.startsWith("video/") ? "video" : "audio";
      media.replaceChildren(el(tag, { src: url, controls: "" }));
    }
  } catch (e) {
    link.textContent = "Could not load it: " + e.message;
  }
}

$("close").addEventListener("click", () => $("viewer").close());
$("viewer").addEventListener("close", () => $("viewer-media").replaceChildren());

let typing;
$("search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(reload, 250); });
$("kind").addEventListener("change", reload);
$("month").addEventListener("change", reload);
$("filters").addEventListener("submit", (e) => { e.preventDefault(); reload(); });
$("clear").addEventListener("click", () => {
  $("kind").value = ""; $("search").value = ""; $("month").value = "";
  showFolder("");
});

/// Narrows the grid to a folder ("" for everything), said above it.
function showFolder(prefix) {
  folder = prefix;
  $("folder-chip").hidden = !folder;
  $("folder-name").textContent = folder;
  reload();
}
$("folder-clear").addEventListener("click", () => showFolder(""));

// ---- removing, and the trash

$("delete").addEventListener("click", () => {
  $("confirm-text").textContent = "Move “" + shownEntry.name + "” (" + size(shownEntry.size) +
    ") to the trash? It leaves the store's listing; its file stays until the trash is emptied, and it can be restored until then.";
  $("confirm").hidden = false;
  $("confirm-no").focus();
});
$("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; });
$("confirm-yes").addEventListener("click", async () => {
  const entry = shownEntry;
  const response = await api("/v1/entries/" + entry.id, { method: "DELETE" });
  if (!response.ok) {
    const why = await response.json().catch(() => ({}));
    $("confirm-text").textContent = "It was not moved: " + (why.error || "the server said " + response.status);
    return;
  }
  $("viewer").close();
  for (const tile of $("grid").querySelectorAll(".item")) {
    if (tile.dataset.id === entry.id) tile.parentElement.remove();
  }
  markSame();
  $("status").textContent = "Moved “" + entry.name + "” to the trash.";
});

async function showTrash() {
  $("app").hidden = true;
  $("trash-view").hidden = false;
  $("trash-status").textContent = "Loading…";
  $("trash-list").replaceChildren();
  const response = await api("/v1/trash");
  if (!response.ok) { $("trash-status").textContent = "The server said " + response.status + "."; return; }
  const trash = await response.json();
  $("trash-list").replaceChildren(...trash.entries.map(trashRow));
  $("trash-status").textContent = trash.entries.length ? "" : "The trash is empty.";
  document.body.dataset.drawn = String(Date.now());
}

function trashRow(entry) {
  const restore = el("button", { type: "button", class: "restore", text: "Restore" });
  const row = el("li", { "data-id": entry.id },
    el("span", { class: "name", text: entry.name }),
    el("span", { class: "meta", text: size(entry.size) }),
    el("span", { class: "meta", text: "removed " + when(entry.trashed) }),
    restore);
  restore.addEventListener("click", async () => {
    restore.disabled = true;
    const response = await api("/v1/trash/" + entry.id + "/restore", { method: "POST" });
    if (!response.ok) {
      const why = await response.json().catch(() => ({}));
      $("trash-status").textContent = "“" + entry.name + "” was not restored: " + (why.error || response.status);
      restore.disabled = false;
      return;
    }
    row.remove();
    $("trash-status").textContent = "Restored “" + entry.name + "”.";
  });
  return row;
}

$("show-trash").addEventListener("click", showTrash);
$("hide-trash").addEventListener("click", () => {
  $("trash-view").hidden = true;
  $("app").hidden = false;
  reload();
});

if (token) start(); else signOut();
