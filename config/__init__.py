"""The ground floor every process shares: the settings (``settings.py``),
which import nothing of ours. The composition root that wires engine,
stores, registry and Celery app from them is ``composition.runtime``."""
