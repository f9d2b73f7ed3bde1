"""Casework: what the office does with a case beyond reading it (status changes and the
events they publish, once-only reuse, figures, complaints rules, time limits)."""
