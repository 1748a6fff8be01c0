"""The ground floor every process shares: the settings (``settings.py``) and
the composition root that wires engine, stores, registry and Celery app from
them (``runtime.py``)."""
