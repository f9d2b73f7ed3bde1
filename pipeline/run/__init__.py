"""How the chain runs: the page-parallel orchestrator, its process pool, per-page work."""
