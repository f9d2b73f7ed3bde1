"""Versioned reference data shipped with the pipeline (see docs/admin-units.md)."""
