"""How `make test` runs the suite itself."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).parents[1]
GROUPED = """
import os, pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("n", range(8))
def test_one(n):
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
"""
CONFTEST = """
import pytest
from tests.support.xdist_groups import keep_groups_together


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    keep_groups_together(config, items)
"""


def test_a_group_of_tests_runs_in_one_worker(tmp_path):
    """`--dist loadgroup` keeps an xdist_group's tests in one worker (the browser module's share one server
    and one chromium); under pytest 9.2 they were spread over both until tests/support/xdist_groups.py."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    pids = tmp_path / "pids"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}  # the options of the run around it
    env |= {"PIDS": str(pids), "PYTHONPATH": str(REPO)}
    args = ["-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    written = pids.read_text().split()
    assert len(written) == 8 and len(set(written)) == 1, written


LEFT_RUNNING = """
import sys, time
from pathlib import Path
from tests.support.postgres import start

pg = start(Path(sys.argv[1]))
print(pg.root, flush=True)
time.sleep(120)
"""


def test_a_server_left_by_a_killed_test_process_is_stopped_and_removed_by_the_next_run():
    """A test process killed before its teardown (kill -9; a cancelled CI job) leaves its PostgreSQL running,
    with its files in /dev/shm: memory held until the machine restarts. The next run sweeps it."""
    from tests.support.postgres import alive, sweep

    # A short folder of its own, as the suite's servers have: under a worker's long tmp_path, pgserver puts the
    # socket elsewhere (a Unix socket's path has 107 bytes at most), in a folder nothing removes.
    parent = Path(tempfile.mkdtemp(prefix="pf-sweep-"))
    log = parent / "made.log"
    with open(log, "w") as err:
        made = subprocess.Popen(
            [sys.executable, "-c", LEFT_RUNNING, str(parent)], cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        root = Path(made.stdout.readline().strip())
        assert root.name.startswith("paperfeed-pg-"), log.read_text()[-2000:]
        postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
        assert sweep(parent) == [], "a server whose test process lives is in use"
        made.kill()
        made.wait()
        assert alive(postmaster), "killed, the test process left its server running"
        assert sweep(parent) == [root]
        assert not alive(postmaster) and not root.exists()
    finally:
        made.kill()
        made.wait()
        sweep(parent)
        shutil.rmtree(parent, ignore_errors=True)
