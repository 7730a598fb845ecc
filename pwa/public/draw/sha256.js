// SHA-256 and the draw's ticket HMAC in plain JavaScript, synchronous and allocation-free per candidate.
//
// WebCrypto answers one promise per HMAC: for 1,000,000 candidates the promises cost far more than the
// hashing. Here the HMAC key blocks (key ^ ipad, key ^ opad) and the message prefix "dsr/v1|ent|<task>|"
// are absorbed once into midstates, so one ticket costs the compression of the id's last block(s) and one
// outer block: two compressions for a usual id. Used by dsr.js (small lists, on the page) and by
// dsr-worker.js (large lists, one Web Worker per core). Same bytes as backend/draws/algorithm.py's
// ticketer; checked against node:crypto and the draw vectors by pwa/test/sha256.test.ts.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const W = new Int32Array(64);

// One compression: state (Int32Array(8), updated) with the 16 big-endian words already in W[0..15].
function compress(state) {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0; state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0; state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

// Load 64 bytes of `bytes` from `at` into W[0..15] (big-endian words).
function load(bytes, at) {
  for (let i = 0; i < 16; i++, at += 4) {
    W[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }
}

const encoder = new TextEncoder();

// UTF-8 of a string into `out` from `at` (growing: returns the array used); fast for ASCII.
function utf8(text) {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return encoder.encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

// A running SHA-256: midstate after `blocks` whole blocks, plus the pending bytes.
function absorb(state, bytes, done) {
  let at = 0;
  while (bytes.length - at >= 64) {
    load(bytes, at);
    compress(state);
    at += 64;
  }
  return { state, pending: bytes.subarray(at), length: done + at };
}

/** SHA-256 of bytes (Uint8Array), 32 bytes. */
export function sha256(bytes) {
  const tail = finish(absorb(Int32Array.from(IV), bytes, 0), new Uint8Array(0));
  return wordsToBytes(tail);
}

const block = new Uint8Array(128);

// Finish a running hash with `more` bytes; the 8 state words (a fresh Int32Array).
function finish(run, more) {
  const state = Int32Array.from(run.state);
  const p = run.pending.length;
  const n = p + more.length;
  if (n + 9 <= 64 || n + 9 <= 128) {
    block.set(run.pending, 0);
    block.set(more, p);
    return tail(state, n, run.length + n);
  }
  const all = new Uint8Array(n);
  all.set(run.pending, 0);
  all.set(more, p);
  const r = absorb(state, all, run.length);
  block.set(r.pending, 0);
  return tail(r.state, r.pending.length, r.length + r.pending.length);
}

// Pad block[0..n) (n < 120) with the total length in bytes and compress it (one or two blocks).
function tail(state, n, total) {
  const size = n + 9 <= 64 ? 64 : 128;
  block[n] = 0x80;
  block.fill(0, n + 1, size);
  const bits = total * 8;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  block[size - 8] = hi >>> 24; block[size - 7] = hi >>> 16; block[size - 6] = hi >>> 8; block[size - 5] = hi;
  block[size - 4] = lo >>> 24; block[size - 3] = lo >>> 16; block[size - 2] = lo >>> 8; block[size - 1] = lo;
  load(block, 0);
  compress(state);
  if (size === 128) {
    load(block, 64);
    compress(state);
  }
  return state;
}

function wordsToBytes(words) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = words[i] >>> 24; out[4 * i + 1] = words[i] >>> 16; out[4 * i + 2] = words[i] >>> 8; out[4 * i + 3] = words[i];
  }
  return out;
}

/**
 * The ticket function of one ranking: ticket(seed, ...prefixParts, last) for many `last`.
 * Returns `one(last, out, at)`, writing the 8 big-endian words of the ticket into out[at..at+8)
 * (an Int32Array; compare them unsigned, `>>> 0`).
 */
export function ticketer(seed, prefixParts) {
  let key = utf8(seed);
  if (key.length > 64) key = sha256(key);
  const ipad = new Uint8Array(64).fill(0x36);
  const opad = new Uint8Array(64).fill(0x5c);
  for (let i = 0; i < key.length; i++) {
    ipad[i] ^= key[i];
    opad[i] ^= key[i];
  }
  const outer = Int32Array.from(IV);
  load(opad, 0);
  compress(outer);
  const inner = Int32Array.from(IV);
  load(ipad, 0);
  compress(inner);
  const prefix = utf8(["dsr/v1", ...prefixParts, ""].join("|"));
  const run = absorb(inner, prefix, 64);
  const state = new Int32Array(8);
  const p = run.pending.length;
  return function one(last, out, at) {
    // inner: the pending prefix bytes and the id, padded; one block for a usual id
    let n = p;
    let ascii = true;
    for (let i = 0; i < last.length; i++) if (last.charCodeAt(i) > 0x7f) { ascii = false; break; }
    if (ascii && p + last.length + 9 <= 128) {
      state.set(run.state);
      block.set(run.pending, 0);
      for (let i = 0; i < last.length; i++) block[n++] = last.charCodeAt(i);
      tail(state, n, run.length + n);
    } else {
      state.set(finish(run, utf8(last)));
    }
    // outer: the inner digest, padded to one block (64 + 32 bytes in all)
    for (let i = 0; i < 8; i++) W[i] = state[i];
    W[8] = 0x80000000 | 0;
    W[9] = 0; W[10] = 0; W[11] = 0; W[12] = 0; W[13] = 0; W[14] = 0;
    W[15] = (64 + 32) * 8;
    state.set(outer);
    compress(state);
    for (let i = 0; i < 8; i++) out[at + i] = state[i];
  };
}

/**
 * The same ticket function for ids given as UTF-8 bytes: `one(bytes, start, end, out, at)` hashes
 * bytes[start..end) as the last part (a Web Worker receives a slice of the list as one buffer of bytes).
 */
export function byteTicketer(seed, prefixParts) {
  const slow = ticketer(seed, prefixParts);
  let key = utf8(seed);
  if (key.length > 64) key = sha256(key);
  const ipad = new Uint8Array(64).fill(0x36);
  const opad = new Uint8Array(64).fill(0x5c);
  for (let i = 0; i < key.length; i++) {
    ipad[i] ^= key[i];
    opad[i] ^= key[i];
  }
  const outer = Int32Array.from(IV);
  load(opad, 0);
  compress(outer);
  const inner = Int32Array.from(IV);
  load(ipad, 0);
  compress(inner);
  const run = absorb(inner, utf8(["dsr/v1", ...prefixParts, ""].join("|")), 64);
  const state = new Int32Array(8);
  const p = run.pending.length;
  const decoder = new TextDecoder();
  return function one(bytes, start, end, out, at) {
    const len = end - start;
    if (p + len + 9 > 128) {   // a long id: the general way
      slow(decoder.decode(bytes.subarray(start, end)), out, at);
      return;
    }
    state.set(run.state);
    block.set(run.pending, 0);
    block.set(bytes.subarray(start, end), p);
    tail(state, p + len, run.length + p + len);
    for (let i = 0; i < 8; i++) W[i] = state[i];
    W[8] = 0x80000000 | 0;
    W[9] = 0; W[10] = 0; W[11] = 0; W[12] = 0; W[13] = 0; W[14] = 0;
    W[15] = (64 + 32) * 8;
    state.set(outer);
    compress(state);
    for (let i = 0; i < 8; i++) out[at + i] = state[i];
  };
}

/** Compare tickets a[i..i+8) and b[j..j+8) (Int32Arrays of big-endian words) as unsigned numbers. */
export function compareWords(a, i, b, j) {
  for (let w = 0; w < 8; w++) {
    const x = a[i + w] >>> 0;
    const y = b[j + w] >>> 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function wordsToHex(words, at = 0) {
  let s = "";
  for (let i = 0; i < 8; i++) s += (words[at + i] >>> 0).toString(16).padStart(8, "0");
  return s;
}
