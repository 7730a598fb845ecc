// The n smallest (ticket, id) of a list of ids, in ticket order (equal ticket: the smaller id in code point
// order first), computed synchronously with the plain-JavaScript HMAC of sha256.js. Runs in a Web Worker
// (dsr-worker.js, one slice of a large list each) and on the page for small lists (dsr.js).
//
// Ids whose ticket is above the n-th smallest seen so far are dropped at once; the others go to a buffer,
// cut back to n by a sort whenever it is full (2n, at least 4096), as backend/draws/algorithm.py does.

import { byteTicketer, compareWords, ticketer } from "./sha256.js";

// Code point order (Python's str order); JS's < compares UTF-16 code units.
export function compareCodePoints(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x += x >= 0xe000 ? -0x800 : 0x2000;
        y += y >= 0xe000 ? -0x800 : 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * ids: strings; n: how many to keep; onProgress(done) now and then.
 * Returns { tickets: Int32Array(8 m), index: Int32Array(m) } for the m = min(n, ids.length) smallest, in
 * order; index[j] is the position in ids, tickets[8j..8j+8) its ticket (big-endian words).
 */
export function smallest(seed, prefixParts, ids, n, onProgress) {
  const count = ids.length;
  n = Math.max(0, Math.min(n, count));
  if (n === 0) return { tickets: new Int32Array(0), index: new Int32Array(0) };
  const one = ticketer(seed, prefixParts);
  const limit = n >= count ? count : Math.min(count, Math.max(2 * n, 4096));
  let tickets = new Int32Array(limit * 8);
  let index = new Int32Array(limit);
  let spare = new Int32Array(limit * 8);
  let spareIndex = new Int32Array(limit);
  let slots = new Int32Array(limit);
  const scratch = new Int32Array(8);
  let size = 0;
  let bounded = false;
  const bound = new Int32Array(8);
  const bound0 = () => bound[0] >>> 0;
  let b0 = 0;

  const order = (x, y) => compareWords(tickets, 8 * x, tickets, 8 * y) || compareCodePoints(ids[index[x]], ids[index[y]]);
  const sortAndCut = (keep) => {
    const view = slots.subarray(0, size);
    for (let j = 0; j < size; j++) view[j] = j;
    const sorted = Array.prototype.slice.call(view).sort(order);
    const m = Math.min(keep, size);
    for (let j = 0; j < m; j++) {
      const s = sorted[j];
      spare.set(tickets.subarray(8 * s, 8 * s + 8), 8 * j);
      spareIndex[j] = index[s];
    }
    [tickets, spare] = [spare, tickets];
    [index, spareIndex] = [spareIndex, index];
    size = m;
  };

  for (let i = 0; i < count; i++) {
    one(ids[i], scratch, 0);
    if (bounded) {
      const h = scratch[0] >>> 0;
      if (h > b0 || (h === b0 && compareWords(scratch, 0, bound, 0) > 0)) continue;  // equal: the id decides later
    }
    tickets.set(scratch, 8 * size);
    index[size++] = i;
    if (size === limit && limit < count) {
      sortAndCut(n);
      bound.set(tickets.subarray(8 * (n - 1), 8 * n));
      b0 = bound0();
      bounded = true;
    }
    if (onProgress && (i & 0xffff) === 0xffff) onProgress(i + 1);
  }
  sortAndCut(n);
  if (onProgress) onProgress(count);
  return { tickets: tickets.slice(0, 8 * size), index: index.slice(0, size) };
}

// Byte order of UTF-8 is code point order.
function compareBytes(bytes, a0, a1, b0, b1) {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = bytes[a0 + i] - bytes[b0 + i];
    if (d) return d;
  }
  return (a1 - a0) - (b1 - b0);
}

/**
 * smallest() for ids given as the UTF-8 bytes of the ids joined by "\n" (`count` of them): no string per id.
 * Returns null when the bytes do not hold exactly `count` lines (an id with a newline: rank the strings).
 */
export function smallestOfBytes(seed, prefixParts, bytes, count, n, onProgress) {
  const starts = new Int32Array(count + 1);
  let lines = 0;
  starts[0] = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10) {
      if (++lines > count - 1) return null;
      starts[lines] = i + 1;
    }
  }
  if (lines !== count - 1) return null;
  starts[count] = bytes.length + 1;
  const end = (i) => starts[i + 1] - 1;
  n = Math.max(0, Math.min(n, count));
  if (n === 0) return { tickets: new Int32Array(0), index: new Int32Array(0) };
  const one = byteTicketer(seed, prefixParts);
  const limit = n >= count ? count : Math.min(count, Math.max(2 * n, 4096));
  let tickets = new Int32Array(limit * 8);
  let index = new Int32Array(limit);
  let spare = new Int32Array(limit * 8);
  let spareIndex = new Int32Array(limit);
  const scratch = new Int32Array(8);
  const bound = new Int32Array(8);
  let size = 0;
  let bounded = false;
  let b0 = 0;
  const order = (x, y) => compareWords(tickets, 8 * x, tickets, 8 * y)
    || compareBytes(bytes, starts[index[x]], end(index[x]), starts[index[y]], end(index[y]));
  const sortAndCut = (keep) => {
    const slots = new Array(size);
    for (let j = 0; j < size; j++) slots[j] = j;
    slots.sort(order);
    const m = Math.min(keep, size);
    for (let j = 0; j < m; j++) {
      const s = slots[j];
      spare.set(tickets.subarray(8 * s, 8 * s + 8), 8 * j);
      spareIndex[j] = index[s];
    }
    [tickets, spare] = [spare, tickets];
    [index, spareIndex] = [spareIndex, index];
    size = m;
  };
  for (let i = 0; i < count; i++) {
    one(bytes, starts[i], end(i), scratch, 0);
    if (bounded) {
      const h = scratch[0] >>> 0;
      if (h > b0 || (h === b0 && compareWords(scratch, 0, bound, 0) > 0)) continue;
    }
    tickets.set(scratch, 8 * size);
    index[size++] = i;
    if (size === limit && limit < count) {
      sortAndCut(n);
      bound.set(tickets.subarray(8 * (n - 1), 8 * n));
      b0 = bound[0] >>> 0;
      bounded = true;
    }
    if (onProgress && (i & 0xffff) === 0xffff) onProgress(i + 1);
  }
  sortAndCut(n);
  if (onProgress) onProgress(count);
  return { tickets: tickets.slice(0, 8 * size), index: index.slice(0, size) };
}
