"""The dispatcher on its own, against a real Redis and a real SQLite
database, with no worker taking messages: what it sends, in which order, to
which priority list, and what it does when the broker cannot be reached."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs import fairshare, store
from jobs.db import make_engine, migrate, session_factory, unit_of_work
from jobs.models import Job
from jobs.registry import build_registry
from queues import fastpath
from queues.app import RUN_JOB, RUN_PART, make_celery
from queues.dispatch import enqueue
from queues.fair import (
    LOCK_KEY,
    PRIORITY_SEP,
    STATE_KEY,
    WAKE_KEY,
    Dispatcher,
    load_state,
    queue_depth,
    wake_at_task_start,
)
from tests.conftest import TEST_KINDS, make_settings


def echo_job(department: str, session: Session) -> Job:
    """A waiting ``echo`` job of ``department`` in the cpu pool, in ``session``."""
    store.ensure_department(department, session=session)
    return store.create_job(
        session=session,
        kind="echo",
        queue="cpu",
        department_code=department,
        submitted_by=None,
        parameters={},
    )


@dataclass
class Setup:
    settings: Settings
    factory: sessionmaker[Session]
    client: redis.Redis

    def dispatcher(self, broker: str | None = None) -> Dispatcher:
        registry = build_registry(self.settings.extra_job_kinds)
        celery = make_celery(self.settings, redis_url=broker)
        return Dispatcher(self.settings, self.factory, registry, celery, self.client)

    def job(self, department: str, *, urgent: bool = False) -> str:
        with unit_of_work(self.factory) as session:
            job = echo_job(department, session)
            job.urgent = urgent
            return job.id

    def sent(self, priority: int = 3) -> list[str]:
        """Job ids in the cpu queue's list for ``priority``, oldest first."""
        key = "cpu" if priority == 0 else f"cpu{PRIORITY_SEP}{priority}"
        return [
            json.loads(m)["headers"]["argsrepr"].strip("[]'")
            for m in reversed(self.client.lrange(key, 0, -1))
        ]


@pytest.fixture
def setup(tmp_path: Path, redis_url: str) -> Iterator[Setup]:
    url = redis_url.rsplit("/", 1)[0] + "/9"
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", url, dispatch_depth=3, dispatch_spare=0
    )
    assert settings.extra_job_kinds == [TEST_KINDS]
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    # kombu declares a queue's binding once per process: after the flush, a
    # later test's messages would be routed nowhere unless declared again.
    app = make_celery(settings)
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue(conn.default_channel).declare()
    yield Setup(settings, session_factory(engine), client)
    client.flushdb()
    engine.dispose()


def test_releases_in_fair_order_up_to_the_depth_and_urgent_first(setup: Setup) -> None:
    batch = [setup.job("a") for _ in range(5)]
    b, c = setup.job("b"), setup.job("c")
    dispatcher = setup.dispatcher()
    first = dispatcher.run_pass()
    assert first == [batch[0], b, c]  # a was served least recently (never) first, then newcomers
    assert setup.sent() == first and queue_depth(setup.client, "cpu") == 3
    assert dispatcher.run_pass() == []  # the queue is full: nothing more until a worker takes one

    urgent = setup.job("c", urgent=True)
    assert dispatcher.run_pass() == [urgent]  # past the depth, to the list served first
    assert setup.sent(0) == [urgent]
    setup.client.delete("cpu", f"cpu{PRIORITY_SEP}3")  # as if workers took them all
    assert dispatcher.run_pass() == batch[1:4]  # a alone now: the whole pool, in its order
    with setup.factory() as session:
        waiting = session.get(Job, batch[4])
        assert waiting is not None and waiting.released_at is None and waiting.state == "queued"


def test_a_department_found_empty_is_not_charged_a_turn(setup: Setup) -> None:
    """a's one job goes in the first pass; the round robin then comes back to
    a, which has nothing left: it must not be charged that turn, so when a
    sends again it is served first (served longest ago), not after c."""
    setup.settings.dispatch_depth = 4
    a1, b, c = setup.job("a"), [setup.job("b") for _ in range(3)], [setup.job("c") for _ in range(3)]
    dispatcher = setup.dispatcher()
    assert dispatcher.run_pass() == [a1, b[0], c[0], b[1]]
    a2 = setup.job("a")
    setup.client.delete("cpu", f"cpu{PRIORITY_SEP}3")  # as if workers took them all
    assert dispatcher.run_pass() == [a2, c[1], b[2], c[2]]


def test_a_department_alone_gets_spare_messages_that_newcomers_overtake(setup: Setup) -> None:
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    batch = [setup.job("a") for _ in range(5)]
    dispatcher = setup.dispatcher()
    assert dispatcher.run_pass() == batch[:3]  # alone: depth 1 plus 2 spare, all served last
    assert setup.sent(6) == batch[:3] and setup.sent(3) == []
    b = setup.job("b")
    assert dispatcher.run_pass() == [b]  # the spare ones do not hold a newcomer back
    assert setup.sent(3) == [b]
    c = setup.job("c")
    assert dispatcher.run_pass() == []  # b's job fills the depth: c waits its turn
    setup.client.delete(f"cpu{PRIORITY_SEP}3")  # a worker took b's job, served before a's
    assert dispatcher.run_pass() == [c]  # c was never served: before a, whose turns were taken
    assert setup.sent(3) == [c]
    setup.client.delete(f"cpu{PRIORITY_SEP}3")
    d = setup.job("d")  # alone in the database, but a's spare messages still wait in Redis
    assert dispatcher.run_pass() == [d] and setup.sent(3) == [d]


def test_an_unreachable_broker_leaves_jobs_waiting_for_the_next_pass(setup: Setup) -> None:
    normal, urgent = setup.job("a"), setup.job("b", urgent=True)
    # A real connection refused: nothing listens on port 1.
    assert setup.dispatcher("redis://127.0.0.1:1/0").run_pass() == []
    with setup.factory() as session:
        assert all(session.get(Job, i).released_at is None for i in (normal, urgent))  # type: ignore[union-attr]
    assert setup.dispatcher().run_pass() == [urgent, normal]


def split(setup: Setup, department: str, parts: int, *, urgent: bool = False) -> str:
    """A job of ``department`` that a worker started and split into ``parts``."""
    job_id = setup.job(department, urgent=urgent)
    with unit_of_work(setup.factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state, job.attempts, job.released_at = "running", 1, job.submitted_at
        fairshare.add_parts(job, 1, parts, session=session)
    return job_id


def sent_args(setup: Setup, priority: int = 3) -> list[tuple[object, ...]]:
    key = "cpu" if priority == 0 else f"cpu{PRIORITY_SEP}{priority}"
    found = []
    for raw in reversed(setup.client.lrange(key, 0, -1)):
        message = json.loads(raw)
        found.append((message["headers"]["task"], *ast.literal_eval(message["headers"]["argsrepr"])))
    return found


def test_parts_of_a_split_job_take_fair_turns_and_keep_urgency(setup: Setup) -> None:
    big = split(setup, "a", 4)
    b = setup.job("b")
    assert setup.dispatcher().run_pass() == [big, b, big]
    assert sent_args(setup) == [(RUN_PART, big, 1, 0), (RUN_JOB, b), (RUN_PART, big, 1, 1)]

    setup.client.delete("cpu", f"cpu{PRIORITY_SEP}3")  # as workers that took them
    rush = split(setup, "c", 2, urgent=True)
    assert setup.dispatcher().run_pass() == [rush, rush, big, big]
    assert sent_args(setup, 0) == [(RUN_PART, rush, 1, 0), (RUN_PART, rush, 1, 1)]

    over = split(setup, "d", 2)
    with unit_of_work(setup.factory) as session:
        session.get(Job, over).state = "cancelled"  # type: ignore[union-attr]
    setup.client.delete("cpu", f"cpu{PRIORITY_SEP}3")
    assert setup.dispatcher().run_pass() == []  # a cancelled job's parts are never sent


def test_a_department_alone_is_topped_up_once_down_to_the_depth_in_one_claim(setup: Setup) -> None:
    """Alone, a department's spare messages are refilled only once its
    messages have fallen to ``dispatch_depth``, several in one pass and one
    UPDATE, not one per pass (each pass costs a transaction and a state write)."""
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    batch = [setup.job("a") for _ in range(8)]
    dispatcher = setup.dispatcher()
    updates: list[str] = []
    engine = setup.factory.kw["bind"]
    listener = lambda *args: updates.append(args[2]) if "SET released_at" in args[2] else None  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert dispatcher.run_pass() == batch[:3]
        assert len(updates) == 1  # the three claimed together (the old pass: one per job)
        setup.client.rpop(f"cpu{PRIORITY_SEP}6")  # a worker took one: two still wait
        assert dispatcher.run_pass() == []
        setup.client.rpop(f"cpu{PRIORITY_SEP}6")  # down to the depth: two more at once
        assert dispatcher.run_pass() == batch[3:5]
        assert len(updates) == 2 and setup.sent(6) == batch[2:5]
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def accepted(setup: Setup, department: str) -> tuple[str, fastpath.AtIntake]:
    """A job accepted as intake does under fair dispatch: the fast path's
    claim is the transaction's last step."""
    with unit_of_work(setup.factory) as session:
        job = echo_job(department, session)
        job.task_id = f"task-{job.id}"
        return job.id, fastpath.claim_at_intake(setup.client, job, session=session)


def test_a_job_sent_to_an_idle_pool_is_released_by_intake_and_charged(setup: Setup) -> None:
    job_id, fast = accepted(setup, "a")
    release = fast.release
    assert release is not None and setup.client.get(LOCK_KEY) is not None  # held until the send
    registry = build_registry(setup.settings.extra_job_kinds)
    assert release.send(
        make_celery(setup.settings), setup.settings, registry.get("echo"), f"task-{job_id}", setup.factory
    )
    assert setup.sent(6) == [job_id] and setup.client.get(LOCK_KEY) is None
    with setup.factory() as session:
        assert session.get(Job, job_id).released_at is not None  # type: ignore[union-attr]
    state = load_state(setup.client.get(STATE_KEY.format(queue="cpu")))
    assert state.spare == "a" and state.passes == {"a": 1.0} and state.seq == 1  # a's turn, as a pass charges
    assert setup.dispatcher().run_pass() == []  # nothing left for a pass


def test_the_fast_path_leaves_a_busy_pool_to_the_dispatcher(setup: Setup) -> None:
    waiting = setup.job("b")  # another department's job waits for its turn
    job_id, fast = accepted(setup, "a")
    assert fast.release is None and fast.wake and setup.client.get(LOCK_KEY) is None
    assert setup.dispatcher().run_pass() == [job_id, waiting]  # both never served: by code

    second, fast = accepted(setup, "a")
    assert fast.release is None and fast.wake  # their messages wait in Redis: not idle
    assert setup.dispatcher().run_pass() == [second]  # the pass sends it, in its turn

    setup.client.delete("cpu", f"cpu{PRIORITY_SEP}3", f"cpu{PRIORITY_SEP}6")
    assert setup.client.set(LOCK_KEY, "a pass", px=5000, nx=True)  # a pass under way
    assert setup.dispatcher().run_pass(blocking_timeout=0.1) == []
    late, fast = accepted(setup, "c")
    assert fast.release is None and fast.wake and setup.client.get(LOCK_KEY) == b"a pass"
    with setup.factory() as session:
        assert session.get(Job, late).released_at is None  # type: ignore[union-attr]


def test_intake_does_not_wake_a_pass_that_could_not_release_its_job(setup: Setup) -> None:
    """The department whose spare messages wait in Redis sends again: no
    pass could release it now, so intake wakes none (the next task start
    does); another department's job wakes one, and goes first."""
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    batch = [setup.job("a") for _ in range(3)]
    dispatcher = setup.dispatcher()
    assert dispatcher.run_pass() == batch
    more, fast = accepted(setup, "a")
    assert fast.release is None and not fast.wake
    assert dispatcher.run_pass() == []  # indeed: a's three spare messages fill its room
    other, fast = accepted(setup, "b")
    assert fast.release is None and fast.wake
    assert dispatcher.run_pass() == [other]
    setup.client.delete(f"cpu{PRIORITY_SEP}3", f"cpu{PRIORITY_SEP}6")  # as if a worker took them all
    assert dispatcher.run_pass() == [more]  # the task start's wake-up


def test_a_task_start_wakes_a_pass_only_when_one_could_release_work(setup: Setup) -> None:
    """A department alone whose messages in Redis are above the depth: no
    pass could release anything, so a task start wakes none (before, every
    task start woke one, which released nothing half the time). Once
    another department competes, every task start wakes one again, even
    when the pass that saw it had no room and released nothing."""
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    spare_list = f"cpu{PRIORITY_SEP}6"
    batch = [setup.job("a") for _ in range(6)]
    dispatcher = setup.dispatcher()
    assert dispatcher.run_pass() == batch[:3]
    assert load_state(setup.client.get(STATE_KEY.format(queue="cpu"))).alone

    setup.client.rpop(spare_list)  # a worker took one: two still wait
    assert not wake_at_task_start(setup.client, "cpu", 1)
    assert setup.client.llen(WAKE_KEY) == 0
    assert dispatcher.run_pass() == []  # indeed nothing for a pass to release
    setup.client.rpop(spare_list)  # down to the depth: a pass tops it up
    assert wake_at_task_start(setup.client, "cpu", 1)
    assert setup.client.lpop(WAKE_KEY) == b"cpu"
    assert dispatcher.run_pass() == batch[3:5]

    urgent = setup.job("c", urgent=True)
    assert dispatcher.run_pass() == [urgent]  # at priority 0: a's room is still full
    b = setup.job("b")
    assert dispatcher.run_pass() == []  # a and b compete; the urgent message fills the depth
    assert not load_state(setup.client.get(STATE_KEY.format(queue="cpu"))).alone  # stored all the same
    setup.client.rpop("cpu")  # a worker took the urgent job; a's three spare messages wait
    assert wake_at_task_start(setup.client, "cpu", 1)
    assert dispatcher.run_pass() == [b]


def test_a_send_reaches_its_pool_even_after_redis_lost_the_bindings(setup: Setup) -> None:
    """Sent through kombu's anonymous exchange, a task goes straight into its
    pool's list: no binding lookup per send, and nothing routed nowhere when
    Redis lost the exchange's bindings while this process believes them
    declared (through the pool's exchange it went to kombu's dead-letter list)."""
    job_id = setup.job("a")
    app = make_celery(setup.settings)
    registry = build_registry(setup.settings.extra_job_kinds)
    enqueue(app, setup.settings, registry.get("echo"), job_id, task_id="t-1")  # declares, as a process does
    setup.client.flushdb()  # a Redis restarted without its data
    enqueue(app, setup.settings, registry.get("echo"), job_id, task_id="t-2", priority=6)
    assert setup.sent(6) == [job_id]


def test_a_spare_message_left_alone_gets_its_turn_before_a_later_batch(setup: Setup) -> None:
    """b's one job goes to an idle pool (spare priority, b alone), then a's
    batch arrives (as a split job's parts do): a goes ahead of it only while
    the round robin puts a first; then b's message waits for a worker and a
    gets nothing more. Before, every turn of a's went at the normal
    priority, ahead of b's job, until a's whole batch had gone."""
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    dispatcher = setup.dispatcher()
    first = setup.job("a")
    assert dispatcher.run_pass() == [first]  # a alone: served once
    setup.client.delete(f"cpu{PRIORITY_SEP}6")  # a worker took it
    b = setup.job("b")
    assert dispatcher.run_pass() == [b] and setup.sent(6) == [b]  # b alone: spare priority
    batch = [setup.job("a") for _ in range(4)]
    # Served once each, a longer ago: a's turn, ahead of b's job.
    assert dispatcher.run_pass() == batch[:1] and setup.sent(3) == batch[:1]
    setup.client.rpop(f"cpu{PRIORITY_SEP}3")  # a worker took it
    assert dispatcher.run_pass() == []  # b's turn: its job waits in Redis, a gets none
    setup.client.rpop(f"cpu{PRIORITY_SEP}6")  # a worker took b's job
    assert dispatcher.run_pass() == batch[1:4]  # a alone again: the whole pool


class CountingPool(redis.ConnectionPool):
    """A real connection pool that counts its checkouts: one per command or
    pipeline sent, i.e. one per round trip to Redis."""

    checkouts = 0

    def get_connection(self, *args: object, **kwargs: object) -> redis.connection.Connection:
        self.checkouts += 1
        return super().get_connection(*args, **kwargs)


def test_a_pass_stores_its_turns_and_gives_the_lock_back_in_one_round_trip(setup: Setup) -> None:
    """A pass is most of what fair dispatch costs the worker's main process
    per job: after its sends (kombu's connection), the round robin's state
    and the lock's release go together. Before: a round trip each (lock,
    depth, state, release: four on the dispatcher's client)."""
    setup.settings.dispatch_depth, setup.settings.dispatch_spare = 1, 2
    pool = CountingPool.from_url(setup.settings.redis_url)
    dispatcher = Dispatcher(
        setup.settings,
        setup.factory,
        build_registry(setup.settings.extra_job_kinds),
        make_celery(setup.settings),
        redis.Redis(connection_pool=pool),
    )
    batch = [setup.job("a") for _ in range(5)]
    assert dispatcher.run_pass() == batch[:3]
    setup.client.rpop(f"cpu{PRIORITY_SEP}6")
    setup.client.rpop(f"cpu{PRIORITY_SEP}6")  # down to the depth: the next pass tops it up
    before = pool.checkouts
    assert dispatcher.run_pass(("cpu",), recover=False) == batch[3:5]  # as a task start's wake-up
    assert pool.checkouts - before == 3  # the lock, the depth and state, then state and release together
    state = load_state(setup.client.get(STATE_KEY.format(queue="cpu")))
    assert state.alone and state.seq == 5  # every turn recorded
    assert setup.client.get(LOCK_KEY) is None  # and the lock given back
