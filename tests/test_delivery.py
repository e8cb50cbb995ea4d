"""Delivery: interactive replies never wait behind bulk sends; 429s pause bulk traffic;
each bulk outcome is classified."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery import BULK, Outcome, PriorityRateLimiter, deliver


class Recorder:
    """A stand-in for the Bot API call: records when each call ran."""

    def __init__(self, fail_first: list[Exception] | None = None) -> None:
        self.times: list[tuple[str, float]] = []
        self.fail = list(fail_first or [])

    async def __call__(self, kind: str) -> bool:
        if self.fail:
            raise self.fail.pop(0)
        self.times.append((kind, time.monotonic()))
        return True


async def run(limiter: PriorityRateLimiter, rec: Recorder, kind: str) -> Any:
    return await limiter.process_request(
        rec, (kind,), {}, "sendMessage", {}, BULK if kind == "bulk" else None
    )


async def test_bulk_sends_are_paced_to_the_configured_rate() -> None:
    limiter, rec = PriorityRateLimiter(rate=100), Recorder()
    start = time.monotonic()
    await asyncio.gather(*(run(limiter, rec, "bulk") for _ in range(50)))
    elapsed = time.monotonic() - start
    # 50 messages at 100/s take about 0.49 s; never faster than the rate allows.
    assert elapsed >= 0.45
    assert limiter.bulk_sent == 50


async def test_interactive_reply_does_not_wait_behind_a_bulk_queue() -> None:
    limiter, rec = PriorityRateLimiter(rate=20), Recorder()
    bulk = [asyncio.create_task(run(limiter, rec, "bulk")) for _ in range(40)]  # ~2 s of work
    await asyncio.sleep(0.1)
    asked = time.monotonic()
    await run(limiter, rec, "interactive")
    answered = next(t for kind, t in rec.times if kind == "interactive")
    assert answered - asked < 0.05
    # Bulk sends after it: it took one of their slots rather than jumping over the budget.
    assert sum(1 for kind, _ in rec.times if kind == "bulk") < 10
    for task in bulk:
        task.cancel()
    await asyncio.gather(*bulk, return_exceptions=True)


async def test_retry_after_pauses_bulk_then_retries() -> None:
    limiter = PriorityRateLimiter(rate=1000)
    rec = Recorder(fail_first=[RetryAfter(1)])
    start = time.monotonic()
    assert await run(limiter, rec, "bulk") is True
    assert time.monotonic() - start >= 0.95
    assert limiter.retry_afters == 1
    # The next bulk call is not held any longer once the pause is over.
    before = time.monotonic()
    await run(limiter, rec, "bulk")
    assert time.monotonic() - before < 0.1


async def test_retry_after_gives_up_after_max_retries() -> None:
    limiter = PriorityRateLimiter(rate=1000, max_retries=1)
    rec = Recorder(fail_first=[RetryAfter(0), RetryAfter(0)])
    with pytest.raises(RetryAfter):
        await run(limiter, rec, "bulk")


@pytest.mark.parametrize(
    ("errors", "outcome"),
    [
        ([], Outcome.SENT),
        ([Forbidden("Forbidden: bot was blocked by the user")], Outcome.BLOCKED),
        ([BadRequest("Bad Request: chat not found")], Outcome.FAILED),
        ([NetworkError("Bad Gateway"), TimedOut()], Outcome.SENT),
        ([NetworkError("Internal Server Error (500)")] * 4, Outcome.FAILED),
    ],
)
async def test_deliver_classifies_each_outcome(errors: list[Exception], outcome: Outcome) -> None:
    rec = Recorder(fail_first=errors)

    async def send() -> None:
        await rec("bulk")

    result = await deliver(send, retries=3, backoff=0.001)
    assert result.outcome is outcome
    if outcome is not Outcome.SENT:
        assert result.reason
    assert len(rec.times) == (1 if outcome is Outcome.SENT else 0)
