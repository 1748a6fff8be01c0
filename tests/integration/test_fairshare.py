"""Fair share on a real cpu worker over real Redis: a newcomer department's
job is taken before a big batch's rest, an urgent job before everything
waiting, quotas refuse with 429 and keep what is stored, and a dispatcher
that dies holding the lock is replaced once the lock expires."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import select

from jobs import store
from jobs.models import Job
from jobs.ocr.kind import sample as ocr_sample
from monitoring.metrics import api_metrics
from queues.fair import LOCK_KEY, client_for, wake
from tests.conftest import Service
from tests.integration.helpers import blob_names, counts, submit, wait_finished, wait_until


@contextmanager
def held_dispatch(service: Service, seconds: float = 60) -> Iterator[None]:
    """Hold the dispatchers' lock (as a dispatcher in the middle of a pass
    would): jobs submitted meanwhile wait in the database."""
    client = client_for(service.settings)
    holder = f"test-{uuid.uuid4().hex}"
    wait_until(lambda: client.set(LOCK_KEY, holder, px=int(seconds * 1000), nx=True), 30, "the dispatch lock")
    try:
        yield
    finally:
        if client.get(LOCK_KEY) == holder.encode():
            client.delete(LOCK_KEY)
        wake(client)


def started(service: Service, ids: list[str]) -> dict[str, datetime]:
    with service.runtime.factory() as session:
        rows = session.execute(select(Job.id, Job.started_at).where(Job.id.in_(ids))).all()
    return {i: s for i, s in rows if s is not None}


def start_order(service: Service, ids: list[str]) -> list[str]:
    times = started(service, ids)
    return sorted(times, key=lambda i: times[i])


def batch(service: Service, headers: dict[str, str], n: int, sleep: float) -> list[str]:
    ids = []
    for i in range(n):
        response = submit(service.api, headers, [(f"{i}.txt", b"a\n")], {"sleep": sleep})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def test_a_newcomer_starts_before_the_rest_of_a_big_batch(service: Service) -> None:
    suffix = service.backend[:2]
    a, b, c = (service.token(f"fa{x}{suffix}") for x in "abc")
    batch_a = batch(service, a, 8, 0.4)
    wait_until(lambda: started(service, batch_a), 30, "A's batch to start")
    only_b, only_c = batch(service, b, 1, 0.4), batch(service, c, 1, 0.4)
    owners = {**dict.fromkeys(batch_a, a), only_b[0]: b, only_c[0]: c}
    for job_id, headers in owners.items():
        assert wait_finished(service.api, headers, job_id)["state"] == "succeeded"
    order = start_order(service, batch_a + only_b + only_c)
    # First come first served would start B and C after all eight of A's jobs;
    # fair dispatch lets at most the running job and the one already waiting
    # in Redis (per worker process) go before them.
    assert order.index(only_b[0]) <= 4 and order.index(only_c[0]) <= 5, order
    assert [i for i in order if i in batch_a] == batch_a  # A's jobs keep their order


def test_an_urgent_job_goes_before_every_department_and_is_audited(service: Service) -> None:
    suffix = service.backend[:2]
    a, b = service.token(f"ua{suffix}"), service.token(f"ub{suffix}")
    operator = service.token(f"ops{suffix}", "operator")
    with held_dispatch(service):  # everything below waits in the database, in a known state
        waiting = batch(service, a, 4, 0.3) + batch(service, b, 2, 0.3)
        late = batch(service, b, 1, 0.3)[0]
        refused = service.api.post(f"/api/v1/jobs/{late}/urgent", headers=b)
        assert refused.status_code == 403 and "運用担当" in refused.json()["error"]["message"]
        marked = service.api.post(f"/api/v1/jobs/{late}/urgent", headers=operator)
        assert marked.status_code == 200 and marked.json()["urgent"] is True, marked.text
        also = submit(service.api, operator, [("u.txt", b"a\n")], {"sleep": 0.3}, fields={"urgent": "true"})
        assert also.status_code == 202, also.text
        assert started(service, [*waiting, late]) == {}
    every = [*waiting, late, also.json()["id"]]
    for job_id in every:
        assert wait_finished(service.api, operator, job_id)["state"] == "succeeded"
    order = start_order(service, every)
    assert order[:2] == [late, also.json()["id"]], order  # urgent first, in their order
    assert order[2:] == [waiting[0], waiting[4], waiting[1], waiting[5], waiting[2], waiting[3]]
    with service.runtime.factory() as session:
        events = store.list_audit(session=session, job_id=late, action="urgent")
    assert len(events) == 1 and events[0].actor_name.startswith(f"ops{suffix}")


def test_quotas_refuse_with_429_and_keep_what_is_stored(service: Service, dept: str) -> None:
    headers = service.token(dept)
    settings = service.runtime.settings
    settings.department_quotas[dept] = {"queued_jobs": 2}
    try:
        first = batch(service, headers, 1, 3)[0]
        wait_until(lambda: started(service, [first]), 30, "the first job to start")
        batch(service, headers, 2, 0.1)
        before = counts(service.runtime), blob_names(service.runtime)
        refused = submit(service.api, headers, [("x.txt", b"new content\n")])
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["code"] == "quota_exceeded" and "上限（2件）" in error["message"]
        assert int(refused.headers["Retry-After"]) >= 30
        assert (counts(service.runtime), blob_names(service.runtime)) == before

        settings.department_quotas[dept] = {"queued_pages": 2}
        refused_before = api_metrics().quota_refused.labels(dept, "queued_pages")._value.get()
        params, scans = ocr_sample()
        pages = submit(service.api, headers, [(p.name, p.read_bytes()) for p in scans], params, kind="ocr")
        assert pages.status_code == 429 and int(pages.headers["Retry-After"]) >= 30, pages.text
        assert "処理待ちページ数の上限（2ページ）" in pages.json()["error"]["message"]
        assert pages.json()["error"]["details"]["limit"] == "queued_pages"
        assert api_metrics().quota_refused.labels(dept, "queued_pages")._value.get() == refused_before + 1
        assert (counts(service.runtime), blob_names(service.runtime)) == before

        settings.department_quotas[dept] = {"stored_bytes": 10}
        too_big = submit(service.api, headers, [("y.txt", b"more than ten bytes\n")])
        assert too_big.status_code == 429 and "保存容量が上限" in too_big.json()["error"]["message"]
        assert too_big.json()["error"]["details"]["limit"] == "stored_bytes"
        assert (counts(service.runtime), blob_names(service.runtime)) == before
        assert wait_finished(service.api, headers, first)["state"] == "succeeded"
    finally:
        del settings.department_quotas[dept]


def test_a_dead_dispatchers_lock_expires_and_another_goes_on(service: Service, dept: str) -> None:
    client = client_for(service.settings)
    # As a dispatcher killed mid-pass leaves it: held, with its time to live.
    assert client.set(LOCK_KEY, "dead-dispatcher", px=4000, nx=True) or wait_until(
        lambda: client.set(LOCK_KEY, "dead-dispatcher", px=4000, nx=True), 10, "the lock"
    )
    headers = service.token(dept)
    job_id = batch(service, headers, 1, 0)[0]
    with service.runtime.factory() as session:
        assert session.get(Job, job_id).released_at is None  # type: ignore[union-attr]
    assert wait_finished(service.api, headers, job_id, timeout=30)["state"] == "succeeded"
