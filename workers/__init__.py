"""Queue wrappers around pipeline stages (distributed mode comes with the rq issue)."""
