"""kirz: usage accounting and impact reporting for AI data centres."""
__version__ = "0.1.0"
