"""The offline-sync engine, pure Python (no Flask). For now: canonical JSON and digests."""
