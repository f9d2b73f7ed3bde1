"""The web app (`ecopy serve`): see ecopy/web/app.py."""
