"""Printable views of evidence: register books, the public cancellation list."""
