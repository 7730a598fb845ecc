// After `vite build`: a Brotli (.br) and a gzip (.gz) copy beside every compressible built file, for the
// server to send to clients that accept them (backend/static_files.py). Node's own zlib, maximum levels
// (made once per build, read on every request); a copy that would not be smaller is not written.
// Usage: node scripts/precompress.mjs [dist]
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const COMPRESSIBLE = new Set([".js", ".mjs", ".css", ".html", ".webmanifest", ".wasm", ".json", ".svg", ".txt", ".map", ".ico"]);
const MIN_BYTES = 256;
const TEXT = new Set([".js", ".mjs", ".css", ".html", ".webmanifest", ".json", ".svg", ".txt", ".map"]);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

const root = process.argv[2] ?? "dist";
let raw = 0, br = 0, gz = 0, count = 0;
for (const path of [...files(root)]) {
  if (path.endsWith(".br") || path.endsWith(".gz")) {      // left from an older build of the same name
    unlinkSync(path);
    continue;
  }
}
for (const path of [...files(root)]) {
  const ext = extname(path).toLowerCase();
  const size = statSync(path).size;
  if (!COMPRESSIBLE.has(ext) || size < MIN_BYTES) continue;
  const data = readFileSync(path);
  const brotli = brotliCompressSync(data, { params: {
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_MODE]: TEXT.has(ext) ? constants.BROTLI_MODE_TEXT : constants.BROTLI_MODE_GENERIC,
    [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
  } });
  const gzip = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });   // Node writes mtime 0: same bytes each build
  if (brotli.length < data.length) writeFileSync(`${path}.br`, brotli);
  if (gzip.length < data.length) writeFileSync(`${path}.gz`, gzip);
  raw += data.length; br += Math.min(brotli.length, data.length); gz += Math.min(gzip.length, data.length); count += 1;
}
const kb = (n) => (n / 1024).toFixed(1);
console.log(`precompressed ${count} files in ${relative(process.cwd(), root) || "."}: ${kb(raw)} KB → brotli ${kb(br)} KB, gzip ${kb(gz)} KB`);
