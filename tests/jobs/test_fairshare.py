"""The round robin on its own: who is served next, with weights, with a
department that comes back after being idle."""

from __future__ import annotations

from collections import Counter

from jobs.fairshare import FairState, charge, choose, take_turns


def pick(state: FairState, active: list[str], weights: dict[str, float]) -> str:
    """A turn where every department in ``active`` has work: chosen and charged."""
    chosen = choose(state, active)
    charge(state, chosen, weights)
    return chosen


def turns(state: FairState, active: list[str], n: int, weights: dict[str, float] | None = None) -> list[str]:
    return [pick(state, active, weights or {}) for _ in range(n)]


def test_a_department_alone_gets_every_turn() -> None:
    assert turns(FairState(), ["a"], 5) == ["a"] * 5


def test_a_newcomer_is_served_next_then_turns_alternate() -> None:
    state = FairState()
    turns(state, ["a"], 30)  # a's long batch has been running alone
    assert turns(state, ["a", "b", "c"], 6) == ["b", "c", "a", "b", "c", "a"]


def test_weights_share_turns_in_proportion() -> None:
    counts = Counter(turns(FairState(), ["a", "b"], 300, {"a": 2.0, "b": 1.0}))
    assert counts == {"a": 200, "b": 100}


def test_an_idle_department_does_not_catch_up_on_return() -> None:
    state = FairState()
    turns(state, ["a", "b"], 4)
    turns(state, ["a"], 50)  # b had nothing waiting
    back = turns(state, ["a", "b"], 10)
    assert back[0] == "b" and Counter(back) == {"a": 5, "b": 5}


def test_a_zero_weight_counts_as_one() -> None:
    assert Counter(turns(FairState(), ["a", "b"], 10, {"a": 0.0})) == {"a": 5, "b": 5}


def test_choosing_takes_no_turn_until_charged() -> None:
    state = FairState()
    turns(state, ["a", "b"], 3)  # a, b, a: b is next
    assert choose(state, ["a", "b"]) == "b" and choose(state, ["a", "b"]) == "b"
    charge(state, "b", {})
    assert choose(state, ["a", "b"]) == "a"


def test_take_turns_asks_each_department_once_and_charges_only_turns_taken() -> None:
    """A pass's turns: each department's items fetched once (for the room
    left then), in the round robin's order; one that runs out leaves
    uncharged, so it is first again when it comes back."""
    waiting = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1"], "c": ["c1", "c2"]}
    asked: list[tuple[str, int]] = []

    def fetch(department: str, n: int) -> list[str]:
        asked.append((department, n))
        return waiting[department][:n]

    state = FairState()
    found = take_turns(state, ["a", "b", "c"], 6, {}, fetch)
    assert [item for _, item in found] == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert asked == [("a", 6), ("b", 5), ("c", 4)]
    assert state.seq == 6 and state.served["b"] == 2  # b's second turn was not taken
    assert choose(state, ["a", "b", "c"]) == "b"
