"""Moving former units' stores into one deployment (Decision 19/2025 mergers)."""
