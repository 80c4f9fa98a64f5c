"""Providers: one folder per vendor, all on the shared engine in ``_base``."""
