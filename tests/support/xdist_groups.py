"""The tests that share one server or one browser, kept in one pytest-xdist worker."""

from __future__ import annotations


def keep_groups_together(config, items) -> None:
    """`--dist loadgroup` runs the tests marked `xdist_group(name)` in one worker: pytest-xdist adds "@name" to
    their node ids. Under pytest 9.2 that change no longer takes (pytest-dev/pytest-xdist#1386: xdist sets the
    old `_nodeid`, pytest now reads a structured `_id`), and the tests of the browser, MCP and huggingface_hub
    modules were spread over both workers, each starting its own server and browser. This adds the suffix
    where xdist's did not (with a fixed xdist, it finds it there and does nothing)."""
    if not getattr(config.option, "loadgroup", False):
        return
    grouped = []
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        if names and "@" not in item.nodeid:
            grouped.append((item, "_".join(sorted(names))))
    if not grouped:  # xdist did it (a pytest before 9.2, or a fixed xdist)
        return
    from _pytest.nodeid import NodeId

    for item, group in grouped:
        item._id = NodeId.parse(f"{item.nodeid}@{group}")
