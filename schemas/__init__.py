"""The wire contract: marshmallow schemas per domain, and the generated openapi.json."""
