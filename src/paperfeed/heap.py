"""The long-lived part of a paperfeed process, kept out of the garbage collector's full passes."""

from __future__ import annotations

import gc


def settle() -> None:
    """Move everything alive now (the code and libraries just imported, an app just built) to the collector's
    permanent generation, so a full collection walks only what was made since. Without it every full pass
    walked the ~190,000 objects of the code alone: ~100 ms every few dozen For-you rankings, about 1.5 ms of
    each one (docs/benchmarks.md, "recommend-speed"), and as long a stall for whichever request triggered it.

    Only the young generations are collected first. The collections during the imports leave little behind
    (20 unreachable objects of a built app, a few kilobytes kept for good), and a full pass over everything
    cost 35 ms of every command's start and 70 ms of a server's, twice in `paperfeed serve`."""
    gc.collect(1)
    gc.freeze()
