"""The DigestLog contract: every claim here holds for MemoryDigestLog and for DynamoDigestLog
(on the routing table), and only one of many takers at once wins a period, also over HTTP."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta, timezone

import pytest

from chalicelib.adapters.dynamo.digest_log import DynamoDigestLog
from chalicelib.adapters.dynamo.store import DynamoLeadStore
from chalicelib.cli.embedded import EmbeddedAws
from chalicelib.ports import DigestLog, DigestRun
from tests.fakes import T0, MemoryDigestLog

PERIOD = "daily:2026-11-01"
LEASE = timedelta(minutes=15)


@pytest.fixture(params=["memory", "dynamo"])
def digests(request: pytest.FixtureRequest) -> DigestLog:
    """Each implementation, empty."""
    if request.param == "memory":
        return MemoryDigestLog()
    request.getfixturevalue("dynamo")  # fresh tables on moto, models bound to them
    return DynamoDigestLog()


def take(log: DigestLog, *, after_s: float = 0, max_attempts: int = 3) -> DigestRun | None:
    now = T0 + timedelta(seconds=after_s)
    return log.take("team", PERIOD, now=now, lease_until=now + LEASE, max_attempts=max_attempts)


def test_an_untaken_period_has_no_record(digests: DigestLog) -> None:
    assert digests.get("team", PERIOD) is None


def test_the_first_taker_gets_the_period_and_a_second_does_not(digests: DigestLog) -> None:
    first = take(digests)
    assert first == DigestRun(
        digest="team",
        period=PERIOD,
        status="sending",
        attempts=1,
        taken_at=T0,
        lease_until=T0 + LEASE,
    )
    assert take(digests, after_s=60) is None
    assert digests.get("team", PERIOD) == first


def test_a_sent_period_is_never_taken_again(digests: DigestLog) -> None:
    take(digests)
    digests.finish("team", PERIOD, status="sent", at=T0 + timedelta(seconds=2))
    assert take(digests, after_s=3600 * 24) is None
    run = digests.get("team", PERIOD)
    assert run is not None and run.status == "sent"
    assert run.finished_at == T0 + timedelta(seconds=2) and run.error is None


def test_a_failed_period_is_taken_again_keeping_what_was_sent(digests: DigestLog) -> None:
    take(digests)
    digests.delivered("team", PERIOD, "email:carmen@example.com")
    digests.delivered("team", PERIOD, "email:carmen@example.com")  # a repeat adds nothing
    digests.finish("team", PERIOD, status="failed", at=T0, error="slack C012: channel_not_found")
    failed = digests.get("team", PERIOD)
    assert failed is not None and failed.error == "slack C012: channel_not_found"
    again = take(digests, after_s=900)
    assert again is not None
    assert (again.status, again.attempts, again.done) == (
        "sending",
        2,
        frozenset({"email:carmen@example.com"}),
    )
    assert again.taken_at == T0 + timedelta(seconds=900) and again.finished_at is None


def test_a_failed_period_is_not_taken_after_its_last_attempt(digests: DigestLog) -> None:
    for n in range(2):
        assert take(digests, after_s=n, max_attempts=2) is not None
        digests.finish("team", PERIOD, status="failed", at=T0, error="down")
    assert take(digests, after_s=10, max_attempts=2) is None


def test_a_run_whose_lease_ran_out_is_taken_over(digests: DigestLog) -> None:
    take(digests)
    assert take(digests, after_s=LEASE.total_seconds()) is None  # the lease holds to its end
    over = take(digests, after_s=LEASE.total_seconds() + 1)
    assert over is not None and over.attempts == 2


def test_periods_and_digests_are_separate_records(digests: DigestLog) -> None:
    take(digests)
    now = T0
    other = digests.take("team", "weekly:2026-10-26", now=now, lease_until=now, max_attempts=3)
    mine = digests.take("espanol", PERIOD, now=now, lease_until=now, max_attempts=3)
    assert other is not None and mine is not None


def test_first_seen_keeps_the_first_time_in_utc(digests: DigestLog) -> None:
    local = timezone(timedelta(hours=-5))
    assert digests.first_seen("team", T0.astimezone(local)) == T0
    assert digests.first_seen("team", T0 + timedelta(days=1)) == T0
    assert digests.first_seen("espanol", T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    assert digests.first_seen("team", T0).utcoffset() == timedelta(0)


def _together(n: int, call: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_of_many_concurrent_takers_over_http_wins(
    http_dynamo: DynamoLeadStore, embedded_aws: EmbeddedAws
) -> None:
    log = DynamoDigestLog()
    results = _together(16, lambda: take(log))
    assert sum(r is not None for r in results) == 1
    # Each run offers its own time; all of them get back the one that was stored.
    seconds = itertools.count()
    firsts = _together(8, lambda: log.first_seen("new", T0 + timedelta(seconds=next(seconds))))
    assert len(set(firsts)) == 1
