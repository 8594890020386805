// tus-js-client (from npm, not written here) against `ingest serve`, run by
// tests/cli/tus.rs under Node:
//
//   node client.js ENDPOINT TOKEN FILE NAME MODE
//
// MODE: "whole" uploads in one go; "interrupted" aborts the upload about
// halfway, asks the server where it stands, and resumes with a new Upload
// of the same URL; "retrying" uploads with retries, for a server killed
// under it. Prints one JSON line: the upload's URL, the offset it resumed
// from, and whether it succeeded.
"use strict";
const fs = require("fs");
const path = require("path");
const tus = require(path.join(process.env.TUS_CLIENTS, "node_modules", "tus-js-client"));

const [endpoint, token, file, name, mode] = process.argv.slice(2);
const size = fs.statSync(file).size;
const common = {
  endpoint,
  headers: { Authorization: "Bearer " + token },
  // TUS_SHA256: the file's hash, announced (the server may hold it).
  metadata: Object.assign({ filename: name, filetype: "application/octet-stream" },
    process.env.TUS_SHA256 ? { sha256: process.env.TUS_SHA256 } : {}),
  // TUS_CHUNK bytes a PATCH (0: the whole rest in one).
  chunkSize: Number(process.env.TUS_CHUNK || 1 << 20) || Infinity,
  uploadSize: size,
  // TUS_PROTOCOL: tus-v1 (the default), ietf-draft-03 or ietf-draft-05.
  protocol: process.env.TUS_PROTOCOL || "tus-v1",
};

function upload(options) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(fs.createReadStream(file), Object.assign({}, common, options, {
      onSuccess: () => resolve(u),
      onError: (e) => reject(e),
    }));
    if (options.onUpload) options.onUpload(u, resolve);
    u.start();
  });
}

async function offsetOf(url) {
  const r = await fetch(url, { method: "HEAD", headers: { Authorization: "Bearer " + token, "Tus-Resumable": "1.0.0" } });
  return Number(r.headers.get("upload-offset"));
}

async function main() {
  if (mode === "whole") {
    const u = await upload({});
    console.log(JSON.stringify({ url: u.url, resumedFrom: 0, ok: true }));
    return;
  }
  if (mode === "retrying") {
    // TUS_RETRY_MS between tries (500 unless said).
    const wait = Number(process.env.TUS_RETRY_MS || 500);
    const retryDelays = Array(40).fill(wait);
    const u = await upload({ retryDelays });
    console.log(JSON.stringify({ url: u.url, ok: true }));
    return;
  }
  // Interrupted: abort past half, then a new Upload of the same URL.
  let first;
  await new Promise((resolve, reject) => {
    first = new tus.Upload(fs.createReadStream(file), Object.assign({}, common, {
      onProgress: (sent) => {
        if (sent > size / 2 && !first.aborted) {
          first.aborted = true;
          first.abort().then(resolve, reject);
        }
      },
      onSuccess: () => reject(new Error("it finished before it could be interrupted")),
      onError: reject,
    }));
    first.start();
  });
  const resumedFrom = await offsetOf(first.url);
  const second = await upload({ uploadUrl: first.url });
  console.log(JSON.stringify({ url: second.url, resumedFrom, ok: second.url === first.url }));
}

main().catch((e) => {
  console.log(JSON.stringify({ ok: false, error: String(e) }));
  process.exit(1);
});
