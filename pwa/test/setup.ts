// Every test file gets a fresh, standard IndexedDB (fake-indexeddb) before the app's modules open it.
import "fake-indexeddb/auto";
