// A Web Worker of the draw verifier: ranks one slice of a large candidate list (rank.js) and answers its
// n smallest tickets with their positions. dsr.js starts one per core and merges their answers.

import { smallest } from "./rank.js";

self.onmessage = (event) => {
  const { job, seed, prefix, ids, n } = event.data;
  try {
    let last = 0;
    const { tickets, index } = smallest(seed, prefix, ids, n, (done) => {
      self.postMessage({ job, progress: done - last });
      last = done;
    });
    self.postMessage({ job, tickets, index }, [tickets.buffer, index.buffer]);
  } catch (exc) {
    self.postMessage({ job, error: `${exc && exc.name}: ${exc && exc.message}` });
  }
};
