"""Bulk financial-system entry: approved declarative entry scripts type a
department's records into a web system through a real browser, each record
exactly once. The pure core; no Celery, no HTTP server code."""
