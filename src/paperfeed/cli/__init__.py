"""The `paperfeed` command: a thin shell over the store, the importers, search, ranking, digests and the web app.
One module per group of commands; importing them registers their commands on `app`."""

from __future__ import annotations

import sys

from paperfeed.cli import (  # noqa: F401  (registers commands)
    community,
    data,
    digest,
    groups,
    ingest,
    search,
    serve,
    taste,
    users,
)
from paperfeed.cli.common import app, err
from paperfeed.config import get_settings
from paperfeed.heap import settle

__all__ = ["app", "main"]


def main() -> None:
    """The command, with storage failures (disk full, read-only data directory, …) and a missing index
    answered in one line and exit status 1 rather than a traceback."""
    from paperfeed.store.errors import explain

    settle()
    try:
        app()
    except Exception as exc:
        if unavailable(exc):
            err.print(f"error: {exc}; run `paperfeed index` to repair", highlight=False, markup=False, soft_wrap=True)
            sys.exit(1)
        where = get_settings().data_dir.resolve()
        reason = explain(exc, where)
        if reason is None:
            raise
        err.print(
            f"error: {reason} ({where}); nothing was half-written, run the command again once fixed",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        sys.exit(1)


def unavailable(exc: Exception) -> bool:
    """A damaged index stopped the command. Search is imported only by the commands that search or index
    (it loads onnxruntime, a tenth of a second of every start): an Unavailable can only come from it loaded."""
    service = sys.modules.get("paperfeed.search.service")
    return service is not None and isinstance(exc, service.Unavailable)
