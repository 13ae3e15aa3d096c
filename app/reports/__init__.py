"""Compliance reports: the data (report.py), CSV/JSON/HTML renderers (render.py) and the PDF hook (pdf.py)."""
