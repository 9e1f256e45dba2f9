"""Turn `paperfeed ingest SOURCE TARGET` into an iterator of items from the right importer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.ingest import arxiv_api, arxiv_oai, arxiv_snapshot, hf_archive, hf_daily, hf_page
from paperfeed.ingest.common import check_text_file
from paperfeed.models import Paper, Rejected, SourceError

FILE_READERS = {
    "arxiv-snapshot": (arxiv_snapshot.read, (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".gz")),
    "arxiv-api": (arxiv_api.read, (".xml", ".atom")),
    "arxiv-oai": (arxiv_oai.read, (".xml",)),
    "hf-daily": (hf_daily.read, (".json",)),
    "hf-page": (hf_page.read, (".txt",)),
    "hf-archive": (hf_archive.read, (".jsonl", ".jsonl.gz")),
}


@dataclass
class Options:
    categories: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    max_results: int = 1000
    ids: bool = False


def expand_paths(targets: list[str], suffixes: tuple[str, ...]) -> list[Path] | None:
    """The files named (directories expanded), or None when the targets are not paths."""
    paths = [Path(t) for t in targets]
    if not all(p.exists() for p in paths):
        if any(p.exists() for p in paths) or any(t.endswith(suffixes) for t in targets):
            missing = [str(p) for p in paths if not p.exists()]
            raise SourceError(f"no such file: {', '.join(missing)}")
        return None
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(suffixes)))
        else:
            files.append(p)
    if not files:
        raise SourceError(f"no {'/'.join(suffixes)} files in {', '.join(targets)}")
    return files


def read_files(source: str, files: list[Path]) -> Iterator[Paper | Rejected]:
    reader, _ = FILE_READERS[source]
    for f in files:
        check_text_file(f)
        yield from reader(f)


def open_source(source: str, targets: list[str], settings: Settings, opts: Options) -> Iterable[Paper | Rejected]:
    """Files when the targets exist on disk; otherwise a live query for the sources that have one."""
    if source not in FILE_READERS:
        raise SourceError(f"unknown source {source!r}; choose one of {', '.join(FILE_READERS)}")
    files = expand_paths(targets, FILE_READERS[source][1])
    if files is not None:
        return read_files(source, files)
    if source == "arxiv-api":
        api = arxiv_api.ArxivApi(settings.arxiv_api_url, delay=settings.arxiv_api_delay)
        if opts.ids:
            ids = [i for t in targets for i in t.replace(",", " ").split()]
            return api.fetch(id_list=ids, max_results=max(len(ids), opts.max_results))
        query = arxiv_api.build_query(" ".join(targets), opts.categories, opts.since, opts.until)
        return api.fetch(search_query=query, max_results=opts.max_results)
    if source == "arxiv-oai":
        set_spec = targets[0] if targets and targets[0] else None
        return arxiv_oai.Harvest(settings.arxiv_oai_url, set_spec, opts.since, opts.until)
    if source == "hf-daily":
        try:
            day = date.fromisoformat(targets[0])
        except (ValueError, IndexError) as exc:
            raise SourceError(f"hf-daily takes a .json file or a date YYYY-MM-DD, not {targets!r}") from exc
        return hf_daily.fetch(settings.hf_daily_url, day)
    raise SourceError(f"{source} reads files only; no such file: {', '.join(targets)}")
