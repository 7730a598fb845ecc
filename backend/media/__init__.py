"""Files: photos, uploads and exports, stored by the SHA-256 of their content."""
