// The tus project's own server (@tus/server with @tus/file-store), as its
// README sets it up, for benches/serve_resume.sh:
//
//   node server.js DIR PORT
"use strict";
const http = require("http");
const { Server } = require("@tus/server");
const { FileStore } = require("@tus/file-store");

const [dir, port] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory: dir }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), "127.0.0.1");
