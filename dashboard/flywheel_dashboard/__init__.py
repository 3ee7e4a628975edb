"""The GloriousFlywheel dashboard: the platform's health, pools, history and drift."""

__version__ = "0.1.0"
