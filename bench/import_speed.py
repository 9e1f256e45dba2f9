"""Import throughput and peak memory for the 67,802-paper shared corpus, on one core.

Baseline in the same run: reading and parsing the same files without a database (the importer's
own floor), so the ratio shows what the store costs. Memory: the peak of importing one month's file
against the peak of importing all fifteen; equal peaks mean memory does not grow with input size.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, WORK, machine, python, run_child, table, write_section  # noqa: E402

PARSE_ONLY = (
    "import sys; from pathlib import Path; from paperfeed.ingest import arxiv_snapshot; "
    "n = sum(1 for f in sorted(Path(sys.argv[1]).glob('*.jsonl.gz')) for _ in arxiv_snapshot.read(f)); print(n)"
)


def ingest(data_dir: Path, target: Path):
    return run_child(
        [python(), "-m", "paperfeed", "ingest", "arxiv-snapshot", str(target)],
        # The import alone: `ingest` would go on to embed every paper (the index is bench/speed.py's to time).
        env={"PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_INDEX_AFTER_INGEST": "false"},
        cpu=0,
    )


def main() -> None:
    files = sorted(CORPUS.glob("*.jsonl.gz"))
    work = WORK / "import"
    shutil.rmtree(work, ignore_errors=True)
    parsed = run_child([python(), "-c", PARSE_ONLY, str(CORPUS)], cpu=0)
    total = int(parsed.stdout.strip())
    first = ingest(work / "all", CORPUS)
    again = ingest(work / "all", CORPUS)
    one = ingest(work / "one", files[0])
    one_count = int(one.stdout.split("new ")[1].split(",")[0])
    db_mb = (work / "all" / "paperfeed.db").stat().st_size / 2**20
    rows = [
        [
            "parse only (baseline, no database)",
            f"{total:,}",
            f"{parsed.seconds:.1f}",
            f"{total / parsed.seconds:,.0f}",
            f"{parsed.peak_rss_mb:.0f}",
            "1.00",
        ],
        [
            "import into an empty database",
            f"{total:,}",
            f"{first.seconds:.1f}",
            f"{total / first.seconds:,.0f}",
            f"{first.peak_rss_mb:.0f}",
            f"{parsed.seconds / first.seconds:.2f}",
        ],
        [
            "re-import (all unchanged)",
            f"{total:,}",
            f"{again.seconds:.1f}",
            f"{total / again.seconds:,.0f}",
            f"{again.peak_rss_mb:.0f}",
            f"{parsed.seconds / again.seconds:.2f}",
        ],
        [
            f"import one month ({files[0].name})",
            f"{one_count:,}",
            f"{one.seconds:.1f}",
            f"{one_count / one.seconds:,.0f}",
            f"{one.peak_rss_mb:.0f}",
            "-",
        ],
    ]
    body = "\n".join(
        [
            "## Import: arXiv snapshot format, 67,802 real papers, one core",
            "",
            f"Machine: {machine()}. Command: `paperfeed ingest arxiv-snapshot ../shared/corpus/arxiv-listings`"
            " (15 gzip'd JSON-lines files) pinned to one core, SQLite file, batches of 2,000 papers per"
            " transaction. Times include process start-up. Target: ≥ 5,000 papers/s on one core; memory that"
            " does not grow with the input.",
            "",
            table(["run", "papers", "seconds", "papers/s", "peak RSS MB", "speed vs parse-only"], rows),
            "",
            f"Database after import: {db_mb:.0f} MB. Peak memory for all 15 files vs one file:"
            f" {first.peak_rss_mb:.0f} MB vs {one.peak_rss_mb:.0f} MB"
            f" ({first.peak_rss_mb / one.peak_rss_mb:.2f}x for {total / one_count:.1f}x the papers).",
        ]
    )
    write_section("import", body)
    print(body)


if __name__ == "__main__":
    main()
