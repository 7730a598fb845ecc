// Unit tests of the phone's logic (Vitest): what is kept, what is sent, the rules. IndexedDB is
// fake-indexeddb (a complete in-memory implementation of the standard), the DOM happy-dom; the
// browser itself is exercised by the Playwright runs in tests/e2e/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "happy-dom",
    setupFiles: ["test/setup.ts"],
    restoreMocks: true,
  },
});
