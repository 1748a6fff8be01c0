"""Minutes transcription: Japanese meeting audio in, transcript files and a
議事録 draft out.

The package is a pure core: ``kind.KIND`` is what the registry loads,
``cli_core.transcribe_files`` serves the queue-less CLI, and
``transcribe.plan_chunks`` / ``transcribe_range`` / ``merge_chunks`` let the
worker fan a long recording out over several tasks. Nothing here imports
Celery or FastAPI, and nothing heavy is imported at package import time.
"""
