"""Trust anchors shipped with ecopy (package data, read with importlib.resources)."""
