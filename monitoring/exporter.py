"""Serving metrics: the cluster exporter and a worker's multiprocess view."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from composition.runtime import Runtime
from monitoring.collector import ClusterCollector
from monitoring.storage_check import StorageCheckCollector


def serve_exporter(runtime: Runtime, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped by Prometheus
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ClusterCollector(runtime))
    registry.register(StorageCheckCollector(runtime.artifacts))
    start_http_server(port, addr=host, registry=registry)


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped by Prometheus
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
