"""Object storage, records, register numbering and the person warehouse."""
