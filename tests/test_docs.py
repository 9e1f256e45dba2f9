"""The docs say what the code does: every setting is in docs/settings.md with its default, every command is in
the README, every command the README shows exists, every package is in its Layout, every linked doc exists."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from paperfeed.cli import app
from paperfeed.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> set[str]:
    root = typer.main.get_command(app)
    found = set()
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        found |= {f"{name} {s}" for s in subs} if subs else {name}
    return found


def test_every_setting_is_documented_with_its_default():
    table = (ROOT / "docs" / "settings.md").read_text()
    rows = dict(re.findall(r"^\| `PAPERFEED_(\w+)` \| ([^|]+) \|", table, re.M))
    assert set(rows) == {name.upper() for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        default = "" if field.default in ("", None) else str(field.default)
        assert rows[name.upper()].strip() == (f"`{default}`" if default else "(empty)"), name


def test_every_command_is_in_the_readme():
    missing = sorted(c for c in commands() if f"paperfeed {c}" not in README)
    assert not missing, missing


def test_every_command_the_readme_shows_exists():
    known = commands()
    groups = {c.split()[0] for c in known if " " in c}
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for words in re.findall(r"paperfeed ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", block):
            name, sub = words
            shown = f"{name} {sub}" if name in groups else name
            assert shown in known, f"README shows `paperfeed {shown}`, which does not exist"


def test_the_layout_names_every_package_and_module():
    layout = README[README.index("## Layout") :]
    src = ROOT / "src" / "paperfeed"
    for path in src.iterdir():
        if path.name.startswith("_") or path.name == "__pycache__":
            continue
        name = f"{path.name}/" if path.is_dir() else path.name
        assert name in layout, f"README's Layout does not mention {name}"


def test_every_linked_doc_exists():
    docs = ROOT / "docs"
    text = README + "".join(p.read_text() for p in docs.glob("*.md"))
    for target in set(re.findall(r"\]\(((?:docs/)?[\w-]+\.md)(?:#[\w-]+)?\)", text)):
        assert (ROOT / target).exists() or (docs / target).exists(), target
