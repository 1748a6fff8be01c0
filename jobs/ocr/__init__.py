"""Template OCR (帳票OCR): scanned forms read field by field from a template
definition, uncertain fields sent to a person.

A pure core: ``kind.KIND`` is what the registry loads; ``template`` parses
and versions definitions; ``document.apply_corrections`` and
``kind.regenerate`` serve the review API; ``kind.read_files`` the queue-less
CLI. Nothing here imports Celery or FastAPI, and tesseract is loaded on first
use, not at import.
"""
