"""Document types: the classification model (model.py)."""
