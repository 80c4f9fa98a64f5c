"""Faults from the provider fakes under load: many calls at once (threads, and tasks in one event loop)
against the fake servers (real HTTP on 127.0.0.1) while they inject one kind of fault.

For each fault: requests sent (by the client, and as the fake saw them), retried, failed with a clear
polyface error (its type, and a message that says what to do), and lost (neither a valid result nor a
polyface error, or hung): lost is always 0. Creating requests (``idempotent=False``) are never duplicated
at the fake. ``pytest -s`` prints one ``[fault]`` summary line per load.

Waits are short: retry-after values of 50-100 ms and a retry policy with 20 ms backoff (``_fast``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import pytest
from _faults_load import Counter, Tally, in_tasks, in_threads, says_what_to_do, wait_until

from polyface import OpenAIAdapter, TogetherAdapter, errors
from polyface.providers._base.retry import RetryPolicy
from polyface.testing.fake_openai import FakeOpenAI
from polyface.testing.fake_openai.files import files_of
from polyface.testing.fake_together import FakeTogether

pytestmark = pytest.mark.reliability

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
CHAT_PATH = "/v1/chat/completions"
FT_PATH = "/v1/fine-tunes"
FT_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
THREADS = 24
TASKS = 48
MODES = ["threads", "tasks"]
# With no retry-after the policy below waits >= 3.75 s: a quicker retry followed the header.
SLOW_BACKOFF = 5.0


def _fast(adapter: Any, max_retries: int) -> Any:
    """Short backoff (20 ms doubling to 100 ms) so that the tests run fast; retry-after still wins."""
    adapter.config.retry = RetryPolicy(max_retries=max_retries, initial_delay=0.02, max_delay=0.1)
    return adapter


def _together(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    adapter = TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)
    adapter.models()  # the catalog (for costs) is fetched once, before the load
    return adapter


def _say(tally: Tally) -> Tally:
    print(tally.line())
    tally.assert_no_loss()
    return tally


def _chat_load(
    fault: str, mode: str, adapter: TogetherAdapter, fake: FakeTogether, *, calls: int | None = None
) -> Tally:
    """``calls`` chats at once, call i saying ``call i``; valid means the echo of exactly that."""
    n = calls or (THREADS if mode == "threads" else TASKS)
    counter = Counter(adapter, fake, CHAT_PATH)

    def valid(i: int, reply: Any) -> bool:
        return getattr(reply, "text", None) == f"Echo: call {i}"

    if mode == "threads":
        tally = in_threads(fault, n, lambda i: adapter.text.generate(model=CHAT, messages=f"call {i}"), valid)
    else:

        async def one(i: int) -> Any:
            return await adapter.text.agenerate(model=CHAT, messages=f"call {i}")

        tally = in_tasks(fault, n, one, valid, teardown=adapter.aclose)
    return _say(counter.fill(tally))


def _arrivals_by_call(fake: FakeTogether) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for r in fake.requests:
        if r.path == CHAT_PATH:
            times[r.json["messages"][-1]["content"]].append(r.time)
    return times


# ---- 429 storms with retry-after ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("header", "wait"), [({"retry-after": "0.1"}, 0.1), ({"retry-after-ms": "60"}, 0.06)], ids=["s", "ms"]
)
def test_a_429_storm_is_ridden_out_by_waiting_as_told(
    fake_together: FakeTogether, mode: str, header: dict[str, str], wait: float
) -> None:
    storm = 0.3
    # attempt k comes >= k * wait after the first, so attempt ceil(storm / wait) is past the storm
    retries = int(storm / wait) + 2
    with _together(fake_together) as together:
        together.config.retry = RetryPolicy(max_retries=retries, initial_delay=SLOW_BACKOFF)
        fake_together.fail_for(CHAT_PATH, 429, seconds=storm, headers=header)
        tally = _chat_load(f"429 storm {storm}s, {header}", mode, together, fake_together)
    assert tally.ok == tally.calls and not tally.failed
    assert tally.client_sent == tally.fake_seen == tally.calls + tally.client_retried
    assert tally.client_retried == tally.faults_served > 0  # every 429 was retried, nothing else was
    gaps = [b - a for times in _arrivals_by_call(fake_together).values() for a, b in pairwise(times)]
    assert len(gaps) == tally.client_retried
    assert min(gaps) >= wait * 0.95, f"a retry came sooner than the {header} the fake asked for"
    assert max(gaps) < SLOW_BACKOFF * 0.75, f"{header} was ignored for the backoff"


@pytest.mark.parametrize("mode", MODES)
def test_a_429_storm_longer_than_the_retries_fails_clearly(fake_together: FakeTogether, mode: str) -> None:
    n = THREADS if mode == "threads" else TASKS
    with _together(fake_together, max_retries=2) as together:
        # 3 tries per call, all refused: exactly 3 * n 429s
        fake_together.fail(CHAT_PATH, 429, times=3 * n, headers={"retry-after-ms": "20"})
        tally = _chat_load("429 storm past max_retries", mode, together, fake_together)
    assert tally.ok == 0 and len(tally.failed) == n
    assert tally.client_sent == tally.fake_seen == tally.faults_served == 3 * n
    assert tally.client_retried == 2 * n
    for error in tally.failed:
        assert type(error) is errors.RateLimited and error.status == 429
        assert error.retry_after == pytest.approx(0.02)
        assert says_what_to_do(error, "polyface tried 3 times", "Slow down", "rate_limit=RateLimit(")


FT_BODY = {"training_file": "file-0123", "model": FT_MODEL}


def _create_jobs(
    fault: str, mode: str, adapter: TogetherAdapter, fake: FakeTogether, n: int
) -> tuple[Tally, list[dict[str, Any]]]:
    """``n`` fine-tune jobs created at once (``idempotent=False``); the replies' job dicts."""
    counter = Counter(adapter, fake, FT_PATH)
    created: list[dict[str, Any]] = []

    def valid(i: int, job: Any) -> bool:
        created.append(job)
        return isinstance(job, dict) and job.get("suffix") == f"c{i}" and bool(job.get("id"))

    body: Callable[[int], dict[str, Any]] = lambda i: {**FT_BODY, "suffix": f"c{i}"}  # noqa: E731
    http = adapter.config.http
    if mode == "threads":
        tally = in_threads(
            fault,
            n,
            lambda i: http.request("POST", "/fine-tunes", json=body(i), idempotent=False).json(),
            valid,
        )
    else:

        async def one(i: int) -> Any:
            return (await http.arequest("POST", "/fine-tunes", json=body(i), idempotent=False)).json()

        tally = in_tasks(fault, n, one, valid, teardown=adapter.aclose)
    return _say(counter.fill(tally)), created


def _jobs_by_suffix(fake: FakeTogether) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for job in fake.fine_tunes:
        counts[str(job.get("suffix") or "")] += 1
    return counts


@pytest.mark.parametrize("mode", MODES)
def test_creates_refused_by_429_are_retried_and_never_duplicated(
    fake_together: FakeTogether, mode: str
) -> None:
    n = 16
    with _together(fake_together, max_retries=6) as together:
        fake_together.fail_for(FT_PATH, 429, seconds=0.2, headers={"retry-after": "0.05"})
        tally, created = _create_jobs("429 storm on creates", mode, together, fake_together, n)
    assert tally.ok == n and tally.client_retried == tally.faults_served > 0
    assert tally.client_sent == tally.fake_seen == n + tally.client_retried
    assert _jobs_by_suffix(fake_together) == {f"c{i}": 1 for i in range(n)}
    assert sorted(j["id"] for j in created) == sorted(j["id"] for j in fake_together.fine_tunes)


# ---- 5xx bursts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_5xx_burst_is_retried_with_backoff(fake_together: FakeTogether, mode: str) -> None:
    # backoff >= 15 ms, then >= 75 ms a try: 8 retries outlast a 0.25 s burst
    with _fast(_together(fake_together), max_retries=8) as together:
        fake_together.fail_for(CHAT_PATH, 502, seconds=0.25)
        tally = _chat_load("502 burst 0.25s", mode, together, fake_together)
    assert tally.ok == tally.calls
    assert tally.client_sent == tally.fake_seen == tally.calls + tally.client_retried
    assert tally.client_retried == tally.faults_served > 0


@pytest.mark.parametrize("mode", MODES)
def test_5xx_on_every_try_fails_clearly(fake_together: FakeTogether, mode: str) -> None:
    n = THREADS if mode == "threads" else TASKS
    with _fast(_together(fake_together), max_retries=3) as together:
        fake_together.fail(CHAT_PATH, 503, times=4 * n)
        tally = _chat_load("503 on every try", mode, together, fake_together)
    assert len(tally.failed) == n and tally.client_sent == tally.fake_seen == 4 * n
    for error in tally.failed:
        assert type(error) is errors.ProviderUnavailable and error.status == 503
        assert says_what_to_do(error, "polyface tried 4 times", "Try again later")


@pytest.mark.parametrize("mode", MODES)
def test_creates_failing_after_processing_are_never_retried(fake_together: FakeTogether, mode: str) -> None:
    n = 16
    with _fast(_together(fake_together), max_retries=3) as together:
        fake_together.fail_after_processing(FT_PATH, 500, times=n // 2)
        tally, _ = _create_jobs("500 after a create was done", mode, together, fake_together, n)
    assert tally.ok == n - n // 2 and len(tally.failed) == n // 2
    assert tally.client_sent == tally.fake_seen == n and tally.client_retried == 0
    for error in tally.failed:
        assert type(error) is errors.ServerError and error.status == 500
        assert says_what_to_do(error, "did not retry", "Check whether it exists")
    # each call made its job exactly once; the failed calls' jobs exist, as the hint says
    assert _jobs_by_suffix(fake_together) == {f"c{i}": 1 for i in range(n)}


# ---- timeouts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_answers_slower_than_the_timeout_are_retried(fake_together: FakeTogether, mode: str) -> None:
    n = 16
    # n slow answers in all: even a call that meets every one of them succeeds within n retries
    with _fast(_together(fake_together, timeout=0.15), max_retries=n) as together:
        fake_together.delay(CHAT_PATH, seconds=0.6, times=n)
        tally = _chat_load("timeouts (0.6s answers, 0.15s timeout)", mode, together, fake_together, calls=n)
    assert tally.ok == n
    assert tally.client_retried == tally.faults_served == n
    assert tally.client_sent == tally.fake_seen == 2 * n


@pytest.mark.parametrize("mode", MODES)
def test_timeouts_on_every_try_fail_clearly(fake_together: FakeTogether, mode: str) -> None:
    n = 16
    with _fast(_together(fake_together, timeout=0.1), max_retries=1) as together:
        fake_together.delay(CHAT_PATH, seconds=0.5, times=2 * n)
        tally = _chat_load("timeouts on every try", mode, together, fake_together, calls=n)
    assert len(tally.failed) == n and tally.client_sent == tally.fake_seen == 2 * n
    for error in tally.failed:
        assert type(error) is errors.ProviderTimeout
        assert says_what_to_do(error, "timed out waiting for the response", "Raise the timeout")


@pytest.mark.parametrize("mode", MODES)
def test_creates_that_time_out_are_not_retried_nor_duplicated(fake_together: FakeTogether, mode: str) -> None:
    n = 12
    with _fast(_together(fake_together, timeout=0.1), max_retries=3) as together:
        fake_together.delay(FT_PATH, seconds=0.3, times=n)
        tally, _ = _create_jobs("timeouts on creates", mode, together, fake_together, n)
    assert len(tally.failed) == n and tally.client_sent == tally.fake_seen == n and tally.client_retried == 0
    for error in tally.failed:
        assert type(error) is errors.ProviderTimeout
        assert says_what_to_do(error, "did not retry", "Check whether it exists")
    # the fake finishes each job after its client gave up: one job per call, never two
    assert wait_until(lambda: len(fake_together.fine_tunes) == n)
    assert _jobs_by_suffix(fake_together) == {f"c{i}": 1 for i in range(n)}


# ---- connections dropped mid-stream -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_streams_cut_mid_body_fail_clearly(fake_together: FakeTogether, mode: str) -> None:
    n = THREADS if mode == "threads" else TASKS
    cut = n // 2
    words = " ".join(f"w{k}" for k in range(12))
    with _together(fake_together, max_retries=2) as together:
        fake_together.drop_stream(after_chunks=0, times=cut // 2)
        fake_together.drop_stream(after_chunks=3, times=cut - cut // 2)
        counter = Counter(together, fake_together, CHAT_PATH)

        def valid(i: int, text: Any) -> bool:
            return bool(text == f"Echo: call {i} {words}")

        if mode == "threads":

            def one(i: int) -> str:
                return together.text.stream(model=CHAT, messages=f"call {i} {words}").until_done().text

            tally = in_threads("stream dropped mid-body", n, one, valid)
        else:

            async def aone(i: int) -> str:
                stream = together.text.astream(model=CHAT, messages=f"call {i} {words}")
                return (await stream.until_done()).text

            tally = in_tasks("stream dropped mid-body", n, aone, valid, teardown=together.aclose)
        _say(counter.fill(tally))
    assert tally.ok == n - cut and len(tally.failed) == cut
    # a stream is retried only before its first byte; these broke after it: nothing was sent twice
    assert tally.client_sent == tally.fake_seen == n and tally.client_retried == 0
    assert fake_together.streams_dropped == tally.faults_served == cut
    for error in tally.failed:
        assert type(error) is errors.ProviderUnavailable
        assert says_what_to_do(error, "the connection was dropped", "Try again later")


# ---- truncated JSON bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_bodies_cut_by_a_dropped_connection_are_retried(fake_together: FakeTogether, mode: str) -> None:
    n = 16
    with _fast(_together(fake_together), max_retries=n) as together:
        fake_together.truncate_body(CHAT_PATH, keep=0.5, times=n, close_connection=True)
        tally = _chat_load("200 body cut, connection dropped", mode, together, fake_together, calls=n)
    assert tally.ok == n and tally.client_retried == tally.faults_served == n
    assert tally.client_sent == tally.fake_seen == 2 * n


@pytest.mark.parametrize("mode", MODES)
def test_creates_whose_answer_was_cut_are_not_duplicated(fake_together: FakeTogether, mode: str) -> None:
    n = 12
    with _fast(_together(fake_together), max_retries=3) as together:
        fake_together.truncate_body(FT_PATH, keep=0.4, times=n, close_connection=True)
        tally, _ = _create_jobs("create answer cut, connection dropped", mode, together, fake_together, n)
    assert len(tally.failed) == n and tally.client_sent == tally.fake_seen == n
    for error in tally.failed:
        assert isinstance(error, errors.ProviderError)
        assert says_what_to_do(error, "did not retry", "Check whether it exists")
    assert _jobs_by_suffix(fake_together) == {f"c{i}": 1 for i in range(n)}


@pytest.mark.parametrize("mode", MODES)
def test_a_complete_200_with_cut_json_is_a_polyface_error_and_retried(
    fake_together: FakeTogether, mode: str
) -> None:
    n = 16
    with _fast(_together(fake_together), max_retries=n) as together:
        fake_together.truncate_body(CHAT_PATH, keep=0.5, times=n)
        tally = _chat_load("200 with cut JSON (length matches)", mode, together, fake_together, calls=n)
    assert tally.ok == n and tally.client_retried == tally.faults_served == n
    assert tally.client_sent == tally.fake_seen == 2 * n


@pytest.mark.parametrize("mode", MODES)
def test_a_create_answered_with_cut_json_fails_clearly_once(fake_together: FakeTogether, mode: str) -> None:
    n = 12
    with _fast(_together(fake_together), max_retries=3) as together:
        fake_together.truncate_body(FT_PATH, keep=0.4, times=n)
        tally, _ = _create_jobs("create answered with cut JSON", mode, together, fake_together, n)
    assert len(tally.failed) == n and tally.client_sent == tally.fake_seen == n
    for error in tally.failed:
        assert type(error) is errors.ServerError and error.status == 200
        assert says_what_to_do(error, "JSON body is incomplete", "did not retry", "Check whether it exists")
    assert _jobs_by_suffix(fake_together) == {f"c{i}": 1 for i in range(n)}


# ---- slow uploads -------------------------------------------------------------------------------------


@pytest.fixture
def openai_files(fake_openai: FakeOpenAI) -> Iterator[OpenAIAdapter]:
    adapter = OpenAIAdapter(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    yield adapter
    adapter.close()


def _payload(i: int, size: int) -> bytes:
    line = f'{{"messages": [{{"role": "user", "content": "upload {i}"}}]}}\n'.encode()
    return (line * (size // len(line) + 1))[:size]


def _upload_load(
    fault: str,
    mode: str,
    adapter: OpenAIAdapter,
    fake: FakeOpenAI,
    n: int,
    size: int,
    settled: Callable[[], bool] = lambda: True,
) -> Tally:
    """``n`` uploads at once; counted once ``settled()`` (the fake finished with what its clients left)."""
    counter = Counter(adapter, fake, "/v1/files")

    def valid(i: int, stored: Any) -> bool:
        return bool(
            stored.filename == f"u{i}.jsonl"
            and stored.sha256 == hashlib.sha256(_payload(i, size)).hexdigest()
        )

    if mode == "threads":

        def one(i: int) -> Any:
            return adapter.files.upload(_payload(i, size), filename=f"u{i}.jsonl", reuse=False)

        tally = in_threads(fault, n, one, valid)
    else:

        async def aone(i: int) -> Any:
            return await adapter.files.aupload(_payload(i, size), filename=f"u{i}.jsonl", reuse=False)

        tally = in_tasks(fault, n, aone, valid, teardown=adapter.aclose)
    assert wait_until(settled), "the fake never finished the requests its clients left"
    return _say(counter.fill(tally))


def _stored_by_name(fake: FakeOpenAI) -> dict[str, list[str]]:
    stored: dict[str, list[str]] = defaultdict(list)
    for entry in files_of(fake).values():
        stored[entry["filename"]].append(entry["sha256"])
    return stored


@pytest.mark.parametrize("mode", MODES)
def test_slow_uploads_within_the_timeout_arrive_whole_and_once(
    fake_openai: FakeOpenAI, openai_files: OpenAIAdapter, mode: str
) -> None:
    n, size = 8, 256 * 1024
    # the fake reads each body at 2 MB/s: ~0.13 s an upload, TCP flow control throttling the client
    fake_openai.slow_read("/v1/files", bytes_per_second=2e6, times=n)
    tally = _upload_load("slow upload (2 MB/s read)", mode, openai_files, fake_openai, n, size)
    assert tally.ok == n and tally.client_sent == tally.fake_seen == n and tally.client_retried == 0
    assert tally.faults_served == n and not fake_openai.abandoned_requests
    expected = {f"u{i}.jsonl": [hashlib.sha256(_payload(i, size)).hexdigest()] for i in range(n)}
    assert _stored_by_name(fake_openai) == expected


@pytest.mark.parametrize("mode", MODES)
def test_uploads_slower_than_the_timeout_fail_clearly_and_are_not_resent(
    fake_openai: FakeOpenAI, openai_files: OpenAIAdapter, mode: str
) -> None:
    n, size = 8, 256 * 1024
    _fast(openai_files, max_retries=3)
    openai_files.config.read_timeout = 0.25
    # ~1.3 s to read each body, far past the 0.25 s timeout
    fake_openai.slow_read("/v1/files", bytes_per_second=2e5, times=n)
    tally = _upload_load(
        "slow upload past the timeout",
        mode,
        openai_files,
        fake_openai,
        n,
        size,
        settled=lambda: len(fake_openai.abandoned_requests) + len(fake_openai.requests) >= n,
    )
    assert len(tally.failed) == n and tally.client_retried == 0
    assert tally.client_sent == tally.fake_seen == n  # each upload reached the fake once, never twice
    for error in tally.failed:
        assert type(error) is errors.ProviderTimeout
        assert says_what_to_do(error, "timed out", "did not retry", "Check whether it exists")
    # the fake gave up on bodies whose client left: nothing stored, nothing twice
    assert len(fake_openai.abandoned_requests) == n
    assert not files_of(fake_openai)


@pytest.mark.parametrize("mode", MODES)
def test_uploads_refused_by_429_are_resent_whole(
    fake_openai: FakeOpenAI, openai_files: OpenAIAdapter, mode: str
) -> None:
    n, size = 8, 64 * 1024
    fake_openai.fail("/v1/files", 429, times=n, headers={"retry-after-ms": "30"})
    openai_files.config.retry = RetryPolicy(max_retries=n)
    tally = _upload_load("429 on uploads", mode, openai_files, fake_openai, n, size)
    assert tally.ok == n and tally.client_retried == tally.faults_served == n
    assert tally.client_sent == tally.fake_seen == 2 * n
    # the retry sent the whole file again (the reader was rewound), and one file per upload is stored
    expected = {f"u{i}.jsonl": [hashlib.sha256(_payload(i, size)).hexdigest()] for i in range(n)}
    assert _stored_by_name(fake_openai) == expected
