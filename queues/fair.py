"""The fair dispatcher: releases waiting jobs from the database to their
pool's Celery queue, a few at a time, in the order ``jobs.fairshare`` decides.

It keeps at most ``dispatch_depth`` messages waiting in each pool's Redis
queue (urgent jobs go at once, at the highest message priority), so the next
job a freed worker takes was chosen fairly a moment before. It runs as a
thread in every worker's main process (``worker.main``): a Redis lock lets
one pass run at a time, and a pass that dies with its process leaves the lock
to expire, so any other worker goes on. Intake and every task start push a
wake-up into a Redis list (unless no pass could release anything then:
``wake_at_task_start``); the loop also runs every ``dispatch_interval_s``.
A pass releases what the room allows in one transaction (``_release``), and
a lone department's spare messages are topped up once down to the depth, so
a batch of tiny jobs does not cost a transaction per job. A job sent to an
idle pool needs no pass: intake releases it (``queues.fastpath``).

What a crash can do: the job is marked released and committed before its
task is sent; a send that fails unmarks it. A process killed between the two
leaves the job released but unsent; ``resend_lost`` sends it again (same task
id) once it has waited ``LOST_AFTER_S`` with its pool's queue empty.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from celery import Celery
from kombu.transport.redis import PRIORITY_STEPS
from redis.lock import Lock
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config.settings import QUEUES, Settings
from jobs import fairshare
from jobs.db import read_only, unit_of_work
from jobs.models import Job, utcnow
from jobs.registry import Registry
from queues.dispatch import (
    NORMAL_PRIORITY,
    SPARE_PRIORITY,
    URGENT_PRIORITY,
    enqueue,
    new_task_id,
    send_part,
)

log = logging.getLogger(__name__)

WAKE_KEY = "digilabo:dispatch:wake"
LOCK_KEY = "digilabo:dispatch:lock"
STATE_KEY = "digilabo:fair:{queue}"
# kombu's Redis transport keeps one list per priority step: "queue" for 0 and
# "queue\x06\x16N" for the others.
PRIORITY_SEP = "\x06\x16"
LOCK_TTL_S = 30.0
LOST_AFTER_S = 300.0

_clients: dict[str, redis.Redis] = {}


def client_for(settings: Settings) -> redis.Redis:
    """One Redis client per URL and process (redis-py renews its connections
    after a fork)."""
    url = settings.redis_url
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=10, health_check_interval=30)
    return _clients[url]


def wake(client: redis.Redis, queue: str = "") -> None:
    """Ask the dispatcher for a pass of ``queue`` now (a job arrived, a
    worker took one); empty: every pool."""
    pipe = client.pipeline(transaction=False)
    pipe.lpush(WAKE_KEY, queue or "*")
    pipe.ltrim(WAKE_KEY, 0, 63)  # a burst of wake-ups needs one pass, not many
    pipe.execute()


def wake_at_task_start(client: redis.Redis, queue: str, depth: int) -> bool:
    """A task of ``queue`` began (its message left Redis): wake a pass,
    unless the last one found a department alone (``FairState.alone``) and
    its messages in Redis are still above ``depth``: such a pass would
    release nothing (``Dispatcher._room``), and would only cost the worker's
    main process a transaction and a few round trips beside its consumer.
    Whatever could change that wakes a pass of its own: another department's
    job at intake, a 至急 job, a split job's parts, the timer. Returns
    whether it woke one."""
    (ahead, spare), raw = depth_and_state(client, queue, with_state=True)
    if ahead + spare > depth and load_state(raw).alone:
        return False
    wake(client, queue)
    return True


def woken_pools(first: bytes | str, rest: list[bytes]) -> tuple[str, ...]:
    names = {v.decode() if isinstance(v, bytes) else v for v in (first, *rest)}
    return QUEUES if "*" in names else tuple(q for q in QUEUES if q in names)


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Messages waiting in the pool's queue, every priority together."""
    return sum(depth_and_state(client, queue, with_state=False)[0])


def depth_and_state(
    client: redis.Redis, queue: str, *, with_state: bool
) -> tuple[tuple[int, int], bytes | None]:
    """Messages waiting in the pool's queue (those served before the spare
    ones, and the spare ones) and (``with_state``) its round robin's stored
    state, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for step in PRIORITY_STEPS:
        pipe.llen(queue if not step else f"{queue}{PRIORITY_SEP}{step}")
    if with_state:
        pipe.get(STATE_KEY.format(queue=queue))
    found = pipe.execute()
    state = found.pop() if with_state else None
    ahead = sum(n for step, n in zip(PRIORITY_STEPS, found, strict=True) if step < SPARE_PRIORITY)
    return (int(ahead), int(sum(found) - ahead)), state


def load_state(raw: bytes | None) -> fairshare.FairState:
    """The round robin's memory for one pool, as ``save_state`` stored it."""
    if not raw:
        return fairshare.FairState()
    data: dict[str, Any] = json.loads(raw)
    return fairshare.FairState(
        passes={k: float(v) for k, v in data.get("passes", {}).items()},
        served={k: int(v) for k, v in data.get("served", {}).items()},
        seq=int(data.get("seq", 0)),
        vtime=float(data.get("vtime", 0.0)),
        spare=str(data.get("spare", "")),
        alone=bool(data.get("alone", False)),
    )


def save_state(client: redis.Redis, queue: str, state: fairshare.FairState) -> None:
    # A department whose pass fell to the virtual time would be lifted to
    # it anyway: forget it, so the state stays as small as the active set.
    passes = {d: p for d, p in state.passes.items() if p > state.vtime}
    served = {d: s for d, s in state.served.items() if d in passes}
    data = {
        "passes": passes,
        "served": served,
        "seq": state.seq,
        "vtime": state.vtime,
        "spare": state.spare,
        "alone": state.alone,
    }
    client.set(STATE_KEY.format(queue=queue), json.dumps(data))


def save_and_unlock(client: redis.Redis, lock: Lock, states: dict[str, fairshare.FairState]) -> bool:
    """Store the round robin's new ``states`` and give the dispatchers' lock
    back, in one round trip (a pass's last two steps, each a round trip of
    its own before: a pass is most of what fair dispatch costs per job).
    False when the lock had expired meanwhile (the states are saved all the
    same: they record sends that went)."""
    token = lock.local.token
    pipe = client.pipeline(transaction=False)
    for queue, state in states.items():
        save_state(pipe, queue, state)
    if token is not None:
        lock.local.token = None
        # The lock's own compare-and-delete; EVAL, not EVALSHA, since a
        # pipeline holding a registered script first asks Redis whether it
        # knows it: one round trip more.
        pipe.eval(Lock.LUA_RELEASE_SCRIPT, 1, lock.name, token)
    found = pipe.execute()
    return token is not None and bool(found[-1])


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        registry: Registry,
        celery: Celery,
        client: redis.Redis | None = None,
    ) -> None:
        self.settings, self.factory, self.registry, self.celery = settings, factory, registry, celery
        self.client = client or client_for(settings)

    # -- one pass -----------------------------------------------------------------------

    def run_pass(
        self, pools: tuple[str, ...] = QUEUES, *, recover: bool = True, blocking_timeout: float = 5.0
    ) -> list[str]:
        """Release what ``pools`` have room for; returns the job ids released
        (empty when another process held the lock all along). ``recover``:
        also look for released jobs whose send was lost (the timed passes)."""
        lock = self.client.lock(LOCK_KEY, timeout=LOCK_TTL_S, blocking_timeout=blocking_timeout)
        if not lock.acquire():
            return []
        states: dict[str, fairshare.FairState] = {}
        try:
            released: list[str] = []
            for queue in pools:
                released += self.fill(queue, states, recover=recover)
            return released
        finally:
            if not save_and_unlock(self.client, lock, states):
                log.warning("dispatch lock expired during a pass")

    def fill(self, queue: str, states: dict[str, fairshare.FairState], *, recover: bool = False) -> list[str]:
        """One pool's share of a pass; its round robin's new state, if it
        changed, goes into ``states`` (saved with the lock's release)."""
        with read_only(self.factory) as session:
            urgent, backlogs = fairshare.waiting_groups(queue, session=session)
        active = sorted(backlogs)
        (ahead, spare), raw = (
            depth_and_state(self.client, queue, with_state=bool(active))
            if (active or recover)
            else ((0, 0), None)
        )
        state = load_state(raw)
        was_alone = state.alone
        room, priority = self._room(active, ahead, spare, state)
        released: list[str] = []
        try:
            if urgent or room > 0:
                released = self._release(queue, urgent, backlogs, state, room, priority)
        finally:
            if room > 0 or (active and state.alone != was_alone):
                states[queue] = state
        if recover and not released and ahead + spare == 0:
            released += self.resend_lost(queue)
        return released

    def _room(self, active: list[str], ahead: int, spare: int, state: fairshare.FairState) -> tuple[int, int]:
        """How many jobs this pass may release, and at which message priority.
        Departments competing: up to ``dispatch_depth`` normal messages (spare
        ones wait behind them, so they do not count). One department alone,
        whose spare messages are the ones in Redis (if any): ``dispatch_spare``
        more, as spare messages, so its worker never waits for a pass. Any
        other department's job goes at the normal priority, ahead of them.
        The department alone is topped up only once its messages have fallen
        to ``dispatch_depth``: then ``dispatch_spare`` or more go in one pass
        (one transaction, one state write) instead of one per pass, while
        ``dispatch_depth`` messages still wait for its worker. Spare messages
        whose department has nothing left waiting hold back the others on
        that department's turn (none while they wait)."""
        depth = self.settings.dispatch_depth
        state.alone = len(active) == 1 and (spare == 0 or state.spare == active[0])
        if state.alone:
            state.spare = active[0]
            if ahead + spare > depth:
                return 0, SPARE_PRIORITY
            return depth + self.settings.dispatch_spare - ahead - spare, SPARE_PRIORITY
        # The spare messages of a department with nothing left in the
        # database are its turns, charged when they went. The others go
        # ahead of them only while the round robin puts them first; on that
        # department's turn nothing goes until a worker has taken them (else
        # a job sent to an idle pool, released as spare, waited behind every
        # part of a batch split after it).
        waits = bool(spare and active and state.spare and state.spare not in active)
        if waits and fairshare.choose(state, [*active, state.spare]) == state.spare:
            return 0, NORMAL_PRIORITY
        return (depth - ahead if active else 0), NORMAL_PRIORITY

    def _release(
        self,
        queue: str,
        urgent: bool,
        backlogs: dict[str, fairshare.Backlog],
        state: fairshare.FairState,
        room: int,
        priority: int,
    ) -> list[str]:
        """The whole pass's release in one transaction: every urgent item,
        then ``room`` turns of the round robin, claimed together, committed,
        then sent. ``state`` is charged only for the turns whose send went
        (a claim lost to another pass, or a failed send, takes no turn)."""
        planned = copy.deepcopy(state)
        weights = self.settings.department_weights
        with unit_of_work(self.factory) as session:
            rush = fairshare.waiting_items(queue, session=session, urgent=True) if urgent else []

            def fetch(department: str, n: int) -> list[fairshare.Waiting]:
                return fairshare.waiting_items(
                    queue,
                    session=session,
                    urgent=False,
                    department=department,
                    backlog=backlogs[department],
                    limit=n,
                )

            turns = fairshare.take_turns(planned, sorted(backlogs), room, weights, fetch)
            claimed = fairshare.claim([*rush, *(item for _, item in turns)], session=session)
            sends = [(item, self._task_id(item, session), priority) for item in claimed]
        sent = {id(item) for item in self._send_all(sends)}
        for department, item in turns:
            if id(item) in sent:
                fairshare.charge(state, department, weights)
        return [item.job_id for item in claimed if id(item) in sent]

    @staticmethod
    def _task_id(item: fairshare.Waiting, session: Session) -> str:
        """The task id chosen at intake or at the split, or now (in the
        claim's transaction) for a job that has none."""
        if item.task_id:
            return item.task_id
        task_id = new_task_id()
        session.execute(update(Job).where(Job.id == item.job_id).values(task_id=task_id))
        return task_id

    def _send_all(self, sends: list[tuple[fairshare.Waiting, str, int]]) -> list[fairshare.Waiting]:
        """Send in order; the first failure (the broker is away) stops the
        rest, which are unmarked and wait for the next pass."""
        sent: list[fairshare.Waiting] = []
        for n, (item, task_id, priority) in enumerate(sends):
            if not self._send(item, task_id, priority):
                with unit_of_work(self.factory) as session:
                    fairshare.unrelease([i for i, _, _ in sends[n:]], session=session)
                break
            sent.append(item)
        return sent

    def _send(self, item: fairshare.Waiting, task_id: str, priority: int = NORMAL_PRIORITY) -> bool:
        """Send one item's task; False (logged) when the broker refused it."""
        priority = URGENT_PRIORITY if item.urgent else priority
        what = f"part {item.index}" if item.part_id is not None else "job"
        try:
            kind = self.registry.get(item.kind)
            if item.part_id is not None:
                send_part(
                    self.celery,
                    self.settings,
                    kind,
                    item.job_id,
                    item.attempt,
                    item.index,
                    task_id=task_id,
                    priority=priority,
                )
            else:
                enqueue(self.celery, self.settings, kind, item.job_id, task_id=task_id, priority=priority)
        except Exception as exc:
            log.error(
                "job %s: %s not sent to its queue, it waits for the next pass: %s", item.job_id, what, exc
            )
            return False
        log.info("job %s: %s released%s", item.job_id, what, " (urgent)" if item.urgent else "")
        return True

    def resend_lost(self, queue: str) -> list[str]:
        """Jobs (and parts) released long ago, still waiting, while their
        pool's queue is empty: their send was lost with a dispatcher that died
        between the commit and the send. Sent again under the same task id (a
        delivery that did arrive meanwhile finds the work begun and skips)."""
        before = utcnow() - timedelta(seconds=LOST_AFTER_S)
        with unit_of_work(self.factory) as session:
            lost = session.execute(
                select(Job.id, Job.kind, Job.task_id, Job.urgent).where(
                    Job.queue == queue,
                    Job.state == "queued",
                    Job.released_at.is_not(None),
                    Job.released_at < before,
                    Job.enqueued_at < before,
                )
            ).all()
            for job_id, _, _, _ in lost:
                session.execute(update(Job).where(Job.id == job_id).values(released_at=utcnow()))
            items = [fairshare.Waiting(i, k, t, bool(u)) for i, k, t, u in lost]
            items += fairshare.lost_parts(queue, before, session=session)
        for item in items:
            log.warning("job %s: released but never started, sent again", item.job_id)
        sent = self._send_all([(item, item.task_id or new_task_id(), NORMAL_PRIORITY) for item in items])
        return [item.job_id for item in sent]

    # -- the loop -----------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        """Pass, then wait for a wake-up (a pass of the pools named) or the
        interval (a pass of every pool, with recovery); until ``stop``."""
        pools: tuple[str, ...] = QUEUES
        recover = True
        while not stop.is_set():
            try:
                self.run_pass(pools, recover=recover)
                woken = self.client.blpop([WAKE_KEY], timeout=self.settings.dispatch_interval_s)
                if woken is None:
                    pools, recover = QUEUES, True
                    continue
                pipe = self.client.pipeline()  # the pass about to run covers them all
                pipe.lrange(WAKE_KEY, 0, -1)
                pipe.delete(WAKE_KEY)
                rest, _ = pipe.execute()
                pools, recover = woken_pools(woken[1], rest), False
            except Exception as exc:  # a database or broker blip: try again shortly
                log.warning("dispatch pass failed: %s", exc)
                pools, recover = QUEUES, True
                stop.wait(self.settings.dispatch_interval_s)


def start_dispatcher(make: Callable[[], Dispatcher]) -> threading.Event:
    """The dispatcher loop on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                make().serve(stop)
            except Exception as exc:
                log.warning("dispatcher could not start: %s", exc)
                stop.wait(5.0)

    threading.Thread(target=loop, name="dispatcher", daemon=True).start()
    return stop
