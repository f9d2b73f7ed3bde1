"""Test helpers: the servers tests start (PostgreSQL, Redis, S3, a portal, a private CA), the
browser driver and fault-injecting OCR engines."""
