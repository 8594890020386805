// The reference design of issue 20, built faithfully so `benches/serve.sh`
// can time ingest serve beside it: Express + multer writing each multipart
// file to a temp file, then re-reading it to hash it and check its magic
// bytes, then copying it into a content-addressed store (made durable, as
// ingest's is), with a manifest line and deduplication.
//
//   node server.js STORE PORT TOKEN
"use strict";
const crypto = require("crypto");
const express = require("express");
const fs = require("fs");
const multer = require("multer");
const path = require("path");

const [store, port, token] = process.argv.slice(2);
const tmp = path.join(store, "tmp");
fs.mkdirSync(tmp, { recursive: true });
fs.mkdirSync(path.join(store, "objects"), { recursive: true });

const upload = multer({
  storage: multer.diskStorage({
    destination: tmp,
    filename: (_req, _file, cb) => cb(null, crypto.randomBytes(12).toString("hex")),
  }),
  limits: { fileSize: 1 << 30 },
});

// Magic bytes of the types a phone sends, as such a server checks them.
const MAGIC = [
  ["image/jpeg", Buffer.from([0xff, 0xd8, 0xff])],
  ["image/png", Buffer.from([0x89, 0x50, 0x4e, 0x47])],
  ["image/gif", Buffer.from("GIF8")],
  ["application/pdf", Buffer.from("%PDF")],
];

function sniff(head) {
  for (const [mime, magic] of MAGIC) {
    if (head.subarray(0, magic.length).equals(magic)) return mime;
  }
  if (head.subarray(4, 8).toString() === "ftyp") return "video/mp4";
  return "application/octet-stream";
}

// Re-reads the temp file: SHA-256 and the leading bytes.
function hashAndSniff(file) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    let head = null;
    fs.createReadStream(file)
      .on("data", (chunk) => {
        if (head === null) head = chunk.subarray(0, 16);
        hash.update(chunk);
      })
      .on("end", () => resolve([hash.digest("hex"), sniff(head || Buffer.alloc(0))]))
      .on("error", reject);
  });
}

async function durableCopy(from, to) {
  const part = to + ".part";
  await fs.promises.copyFile(from, part);
  const handle = await fs.promises.open(part, "r+");
  await handle.sync();
  await handle.close();
  await fs.promises.rename(part, to);
}

const app = express();
app.use((req, res, next) => {
  if (req.headers.authorization !== "Bearer " + token) return res.status(401).end();
  next();
});
app.post("/v1/upload", upload.array("file"), async (req, res) => {
  const files = [];
  for (const file of req.files) {
    const [sha256, mime] = await hashAndSniff(file.path);
    const dir = path.join(store, "objects", sha256.slice(0, 2));
    const target = path.join(dir, sha256);
    let status = "duplicate";
    if (!fs.existsSync(target)) {
      await fs.promises.mkdir(dir, { recursive: true });
      await durableCopy(file.path, target);
      status = "new";
    }
    await fs.promises.unlink(file.path);
    const line = { sha256, size: file.size, mime, name: file.originalname };
    await fs.promises.appendFile(path.join(store, "manifest.jsonl"), JSON.stringify(line) + "\n");
    files.push({ ...line, status });
  }
  res.json({ files });
});
app.listen(Number(port), "127.0.0.1", () => console.error("listening on " + port));
