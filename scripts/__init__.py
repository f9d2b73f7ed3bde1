"""Project scripts: benchmarks, evaluation, training and the synthetic-document generator
(synthdocs.py, which the shipped model is trained on; tests use it too, never the reverse)."""
