"""Issue #19: one user's library file never stops anyone else's imports, nor the server. Against `paperfeed
serve` in its own process: adversarial BibTeX from two users while a third imports a small file, the
parser's warnings in one log line, and SIGTERM while a file is being read."""

from __future__ import annotations

import contextlib
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.serving import register, start, stop, token

pytestmark = pytest.mark.process  # starts, kills or floods paperfeed processes: make test, not test-fast


def broken_entries(n: int) -> bytes:
    """n entries that each stop the parser (one multi-line warning each): slow to read, and loud."""
    return "\n".join(f"@article{{k{i}, title = {{an unclosed title {i}" for i in range(n)).encode()


def macros_and_repeated_keys(n: int) -> bytes:
    """@string macros used by entries that all share one key: quadratic before the fix."""
    macros = [f'@string{{m{i} = "Proceedings {i}"}}' for i in range(n)]
    entries = [f'@article{{same,\n title = m{i} # " and title {i}",\n author = {{A. B{i}}}\n}}' for i in range(n)]
    return "\n".join(macros + entries).encode()


def upload(client: httpx.Client, data: bytes) -> tuple[int, str, float]:
    started = time.monotonic()
    files = {"file": ("library.bib", data, "application/x-bibtex")}
    answer = client.post("/settings/taste/import", data={"csrf_token": token(client, "/settings/taste")}, files=files)
    return answer.status_code, answer.text, time.monotonic() - started


def test_two_slow_files_never_turn_away_a_small_one(copy, model_cache):  # noqa: F811
    proc, url = start(copy, model_cache, import_seconds=1.5, max_inflight=8)
    try:
        ada, bob, cy = (register(url, name) for name in ("ada", "bob", "cyril"))
        slow = broken_entries(60_000)  # about 3 MB: several seconds to read, over the 1 MB form limit
        small = macros_and_repeated_keys(300)  # 30 KB: read at once
        with ThreadPoolExecutor(2) as pool:
            big = [pool.submit(upload, c, slow) for c in (ada, bob)]
            time.sleep(0.5)  # both large files are being read now
            status, page, took = upload(cy, small)
            results = [f.result() for f in big]
    finally:
        log = stop(proc)
    assert status == 200 and "Imported:" in page and took < 5, (status, took, page[-500:])
    for status, page, took in results:
        assert status == 422 and "too slow to import" in page, (status, page[-500:])
        assert took < 6  # the deadline, not the whole file
    assert all("library import:" in line for line in log.splitlines() if "Parsing of" in line), log[-2000:]


def test_the_parser_warnings_are_one_log_line(copy, model_cache):  # noqa: F811
    proc, url = start(copy, model_cache, max_inflight=8)
    try:
        status, page, _ = upload(register(url, "ada"), broken_entries(20_000))
    finally:
        log = stop(proc)
    assert status == 200 and "20000 rejected" in page.replace(",", ""), page[-500:]
    lines = [line for line in log.splitlines() if "Parsing of" in line or "library import" in line]
    assert len(lines) == 1 and "20000 parser warnings" in lines[0], lines[:5]


def test_an_adversarial_megabyte_imports_in_seconds(copy, model_cache):  # noqa: F811
    proc, url = start(copy, model_cache, max_inflight=8)
    try:
        data = macros_and_repeated_keys(9_500)  # 1 MB: 19,000 blocks, 9,500 macros, one key
        assert len(data) > 2**20 * 0.9
        status, page, took = upload(register(url, "ada"), data)
    finally:
        stop(proc)
    assert status == 200 and "Imported:" in page, page[-500:]
    # About 2 s on two idle cores, 6 s with three busy processes beside it; quadratic reading took minutes.
    assert took < 15, took


def test_sigterm_during_an_import_stops_the_server_within_ten_seconds(copy, model_cache):  # noqa: F811
    proc, url = start(copy, model_cache, import_seconds=120, max_inflight=8)
    ada = register(url, "ada")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(upload, ada, broken_entries(150_000))  # about 8 MB: many seconds to read
        time.sleep(1.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            took = time.monotonic() - started
            log = stop(proc)
        with contextlib.suppress(httpx.HTTPError):  # the connection closed with the server, as it may
            pending.result(timeout=5)
    assert proc.returncode is not None and took < 10, (took, log[-2000:])
