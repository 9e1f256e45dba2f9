import gzip
import json
import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from paperfeed import __version__
from paperfeed.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()
SAMPLE = str(FIXTURES / "arxiv-snapshot" / "sample-2025-03.jsonl.gz")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help_on_every_command(settings):
    assert invoke("--version").output.strip() == f"paperfeed {__version__}"
    root = typer.main.get_command(app)
    commands = [
        f"{name} {sub}" if sub else name
        for name, cmd in root.commands.items()
        for sub in (getattr(cmd, "commands", None) or [""])
    ]
    assert {"init", "ingest", "search", "serve", "digest run"} <= set(commands)
    for command in commands:
        result = invoke(*command.split(), "--help")
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output and len(result.output.splitlines()) > 4
        # Values named in words (TEXT, N, DATE), not as Python types; flags need none.
        assert not re.search(r"<(str|bool|int|float|list\[str\]|path)>", result.output, re.I), result.output


def test_init_demo_imports_the_bundled_corpus_once(settings):
    first = invoke("init", "--demo")
    assert first.exit_code == 0, first.output
    assert "arxiv-snapshot: new 3741, updated 0, unchanged 0, rejected 0" in first.output
    # ... with Hugging Face's signals for the 303 demo papers it featured (real upvotes from the first page).
    assert "hf-archive: new 0, updated 303, unchanged 0, rejected 0" in first.output
    second = invoke("init", "--demo")
    assert "importing" not in second.output
    assert "hf-archive: new 0, updated 0, unchanged 303, rejected 0" in second.output


def test_ingest_counts_and_is_idempotent(settings):
    first = invoke("ingest", "arxiv-snapshot", SAMPLE)
    assert first.exit_code == 0
    assert "new 466, updated 0, unchanged 0, rejected 0" in first.output
    again = invoke("ingest", "arxiv-snapshot", SAMPLE)
    assert "new 0, updated 0, unchanged 466, rejected 0" in again.output


def test_every_source_from_files(settings):
    runs = [
        ("arxiv-api", FIXTURES / "arxiv-api" / "cs-listing_arxiv_raw_0.xml", "new 100,"),
        ("arxiv-oai", FIXTURES / "arxiv-oai", "new 7,"),
        ("hf-daily", FIXTURES / "hf-daily" / "daily_papers_2024-10-25.json", "new 29,"),
        ("hf-page", FIXTURES / "hf-page", "new 119, updated 0, unchanged 21,"),
    ]
    for source, path, expected in runs:
        result = invoke("ingest", source, path)
        assert result.exit_code == 0, result.output
        assert expected in result.output, result.output


def test_exit_codes_for_unreadable_input_and_strict(settings, tmp_path):
    missing = invoke("ingest", "arxiv-snapshot", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert invoke("ingest", "nonsense", SAMPLE).exit_code == 2
    assert invoke("ingest", "hf-daily", "yesterday").exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "2501.00001", "title": "T", "abstract": "A", "categories": "cs.LG"}\n{oops\n')
    lenient = invoke("ingest", "arxiv-snapshot", bad)
    assert lenient.exit_code == 0
    assert "rejected bad.jsonl:2: invalid JSON" in lenient.output
    assert "new 1, updated 0, unchanged 0, rejected 1" in lenient.output
    assert invoke("ingest", "arxiv-snapshot", bad, "--strict").exit_code == 1


def test_stats_show_and_export(settings):
    invoke("ingest", "arxiv-snapshot", SAMPLE)
    invoke("ingest", "hf-daily", FIXTURES / "hf-daily" / "daily_papers_2024-10-25.json")
    stats = invoke("stats")
    assert "495 papers" in stats.output and "arxiv-snapshot" in stats.output and "cs.CV" in stats.output

    shown = invoke("show", "https://arxiv.org/abs/2410.17243v2")
    assert shown.exit_code == 0
    assert "Breaking the Memory Barrier" in shown.output and "signal hf-daily.upvotes = 64.0" in shown.output
    # An HF record has no version or listing dates: only what is known is printed.
    assert "None" not in shown.output and "v?" not in shown.output
    assert invoke("show", "9999.99999").exit_code == 1

    lines = invoke("export", "--format", "jsonl").output.splitlines()
    assert len(lines) == 495
    records = [json.loads(line) for line in lines]
    assert {"id", "title", "authors", "abstract", "categories", "links"} <= set(records[0])
    only_hf = invoke("export", "--since", "2024-10-25", "--category", "cs.CV").output.splitlines()
    assert all("cs.CV" in json.loads(line)["categories"] for line in only_hf)
    bib = invoke("export", "--format", "bibtex").output
    assert bib.count("@misc{") == 495
    assert "eprint = {2410.17243}" in bib
    assert invoke("export", "--format", "csv").exit_code == 2


@pytest.mark.parametrize("args", [["--version"], ["stats"]])
def test_runs_as_a_real_process(settings, args):
    result = subprocess.run([sys.executable, "-m", "paperfeed", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_command_that_neither_searches_nor_indexes_starts_without_the_search_libraries(settings):
    """`paperfeed stats` as a process: it never loads onnxruntime (a tenth of a second of every start), nor
    what only ranking, sign-ups and feeds use (scipy, zxcvbn, feedgen: 0.1 s more); a damaged index is still
    answered in one line by the commands that search (test_damage)."""
    check = (
        "import runpy, sys\n"
        "sys.argv = ['paperfeed', 'stats']\n"
        "try:\n    runpy.run_module('paperfeed', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "unused = ('onnxruntime', 'usearch', 'tantivy', 'sklearn', 'scipy', 'zxcvbn', 'feedgen')\n"
        "print(sorted(m for m in unused if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_user_add_admin_and_list(settings, monkeypatch):
    from paperfeed.store import accounts, make_engine

    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "long enough password")
    added = invoke("user", "add", "ada", "--email", "ada@example.org")
    assert added.exit_code == 0 and "created ada" in added.output
    assert invoke("user", "add", "ada").exit_code == 1  # taken, said clearly
    assert "taken" in invoke("user", "add", "ada").output
    assert invoke("user", "admin", "ada").exit_code == 0
    listed = invoke("user", "list").output
    assert "ada" in listed and "admin" in listed
    assert invoke("user", "admin", "nobody").exit_code == 1
    engine = make_engine(settings.db_url)
    assert accounts.authenticate(engine, "ada", "long enough password").is_admin
    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "short")
    weak = invoke("user", "add", "bob")
    assert weak.exit_code == 1 and "at least 8" in weak.output


def test_index_with_a_chosen_number_of_embedding_sessions(settings, encoder, tmp_path):
    import gzip

    from paperfeed.search.encoder import get_encoder
    from paperfeed.search.indexer import index_dir
    from paperfeed.search.vectors import VectorStore

    few = tmp_path / "few.jsonl.gz"
    with gzip.open(SAMPLE, "rt") as src, gzip.open(few, "wt") as dst:
        dst.writelines(line for _, line in zip(range(30), src, strict=False))
    assert invoke("ingest", "arxiv-snapshot", few).exit_code == 0
    done = invoke("index", "--workers", "1")
    assert done.exit_code == 0, done.output
    assert "added 30" in done.output and "embedded 30" in done.output
    assert get_encoder(settings.model_cache, "onnx", 1).workers == 1
    store = VectorStore(index_dir(settings.data_dir) / "vectors")
    live = store.live()
    pid = sorted(live)[0]
    one = store.read_vectors([live[pid][0]])[0]
    with_two = encoder.encode([invoke_text(settings, pid)])[0]  # the session count changes no vector
    store.close()
    assert float(one @ with_two) > 0.9999


def invoke_text(settings, pid: str) -> str:
    from sqlalchemy import select

    from paperfeed.search.encoder import paper_text
    from paperfeed.store import make_engine
    from paperfeed.store.schema import papers

    with make_engine(settings.db_url).connect() as conn:
        title, abstract = conn.execute(select(papers.c.title, papers.c.abstract).where(papers.c.id == pid)).one()
    return paper_text(title, abstract)


def test_comments_post_show_and_moderate(settings, monkeypatch):
    from paperfeed.store import accounts, make_engine
    from paperfeed.store import discussions as talk

    invoke("ingest", "arxiv-snapshot", SAMPLE)
    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "long enough password")
    invoke("user", "add", "ada")
    invoke("user", "add", "bob")
    posted = invoke("comments", "post", "2503.11731", "See $O(n)$ in *Table 2*", "--as", "ada")
    assert posted.exit_code == 0, posted.output
    first = int(re.search(r"comment (\d+)", posted.output).group(1))
    assert invoke("comments", "post", "2503.11731", "Yes", "--as", "bob", "--reply-to", first).exit_code == 0
    shown = invoke("comments", "show", "2503.11731").output
    assert f"#{first} ada" in shown and "  See $O(n)$ in *Table 2*" in shown and "      Yes" in shown
    thread = json.loads(invoke("comments", "show", "2503.11731", "--json").output)
    assert thread[0]["replies"][0]["body"] == "Yes"

    assert "no account named 'eve'" in invoke("comments", "post", "2503.11731", "x", "--as", "eve").output
    unknown = invoke("comments", "post", "2599.99999", "x", "--as", "ada")
    assert unknown.exit_code == 1 and "no paper 2599.99999 here" in unknown.output
    empty = invoke("comments", "post", "2503.11731", "   ", "--as", "ada")
    assert empty.exit_code == 1 and "the comment is empty" in empty.output

    engine = make_engine(settings.db_url)
    with engine.connect() as conn:
        bob = accounts.get_user(conn, "bob")
    talk.report(engine, bob, first, "off topic")
    assert "off topic" in invoke("comments", "reported").output
    assert invoke("comments", "hide", first).exit_code == 0
    assert "no open reports" in invoke("comments", "reported").output
    assert "[hidden by an admin]" in invoke("comments", "show", "2503.11731").output
    assert invoke("comments", "hide", first, "--restore").exit_code == 0
    assert "See $O(n)$" in invoke("comments", "show", "2503.11731").output
    assert invoke("comments", "hide", 99999).exit_code == 1


def test_author_lists_papers_and_follows(settings, monkeypatch):
    invoke("ingest", "arxiv-snapshot", SAMPLE)
    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "long enough password")
    invoke("user", "add", "ada")
    with gzip.open(SAMPLE, "rt") as lines:
        record = json.loads(lines.readline())
    first = record["authors"].split(",")[0].strip()
    shown = invoke("author", first.upper(), "--follow", "ada")
    assert shown.exit_code == 0, shown.output
    assert record["id"] in shown.output and f"ada follows {first}" in shown.output
    data = json.loads(invoke("author", first, "--json").output)
    assert data["name"] == first and record["id"] in [p["id"] for p in data["recent"]]
    missing = invoke("author", "Nobody Atall")
    assert missing.exit_code == 1 and "no paper here lists 'Nobody Atall'" in missing.output


def test_group_create_invite_show_as_members_only(settings, monkeypatch):
    from paperfeed.store import accounts, groups, make_engine, marks

    invoke("ingest", "arxiv-snapshot", SAMPLE)
    monkeypatch.setenv("PAPERFEED_NEW_PASSWORD", "long enough password")
    for name in ("ada", "bob", "eve"):
        invoke("user", "add", name)
    made = invoke("group", "create", "Vision lab", "--as", "ada")
    assert made.exit_code == 0, made.output
    gid = int(re.search(r"group (\d+)", made.output).group(1))
    link = invoke("group", "invite", gid, "--as", "ada", "--uses", 1).output.strip()
    assert link.startswith("http") and "/groups/join/" in link
    refused = invoke("group", "invite", gid, "--as", "bob")
    assert refused.exit_code == 1 and "no such group" in refused.output
    engine = make_engine(settings.db_url)
    with engine.connect() as conn:
        bob = accounts.get_user(conn, "bob")
    groups.join(engine, bob, link.rsplit("/", 1)[1])
    marks.set_upvote(engine, bob, "2503.11731", True)
    shown = invoke("group", "show", gid, "--as", "ada")
    assert "ada (owner), bob (member)" in shown.output and "2503.11731" in shown.output and "bob" in shown.output
    assert json.loads(invoke("group", "show", gid, "--as", "ada", "--json").output)["picks"][0]["by"] == ["bob"]
    assert "Vision lab\tmember" in invoke("group", "list", "--as", "bob").output
    outsider = invoke("group", "show", gid, "--as", "eve")
    assert outsider.exit_code == 1 and "Vision" not in outsider.output and "2503.11731" not in outsider.output
