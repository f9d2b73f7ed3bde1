"""ecopy: certified electronic copies from paper originals (the app shell: CLI, settings)."""

__version__ = "0.1.0"
SOFTWARE = f"ecopy {__version__}"
