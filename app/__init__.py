"""Patchdesk core: everything that is not pixels (Qt-free)."""

__version__ = "0.1.0"
