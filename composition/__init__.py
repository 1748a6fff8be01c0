"""The composition root, on the top floor of the library packages: builds the
engine, stores, registry, each kind's options and the Celery app from the
settings (``runtime.py``). It imports ``jobs``, ``config`` and ``queues``;
only the layers above (monitoring, services, worker, intake_api, digilabo)
and the entry points import it."""
