// A Web Worker of the draw verifier: ranks one slice of a large candidate list (rank.js) and answers its
// n smallest tickets with their positions. dsr.js starts one per core and merges their answers.

import { smallest, smallestOfBytes } from "./rank.js";

self.onmessage = (event) => {
  const { job, seed, prefix, ids, bytes, count, n } = event.data;
  try {
    let last = 0;
    const progress = (done) => {
      self.postMessage({ job, progress: done - last });
      last = done;
    };
    // the ids as UTF-8 bytes joined by "\n" (no string per id), or as strings
    const ranked = bytes ? smallestOfBytes(seed, prefix, bytes, count, n, progress) : smallest(seed, prefix, ids, n, progress);
    if (ranked === null) {
      self.postMessage({ job, newline: true });
      return;
    }
    const { tickets, index } = ranked;
    self.postMessage({ job, tickets, index }, [tickets.buffer, index.buffer]);
  } catch (exc) {
    self.postMessage({ job, error: `${exc && exc.name}: ${exc && exc.message}` });
  }
};
