"""Advisories: vendor bulletins and catalogs (CISA KEV, OSV) that say which updates matter and why."""
