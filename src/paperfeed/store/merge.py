"""How an incoming record of a paper merges into the stored one (the importer's rules, store/importer.py):
a strictly newer record (higher version, else later `updated`) replaces each field it has, an older one only
fills what the stored paper lacks; `listed_date` and `published` keep the earliest value, `updated` and
`version` the latest."""

from __future__ import annotations

from datetime import datetime

from paperfeed.models import PAPER_FIELDS, Paper, normalize_title

CONTENT = (*PAPER_FIELDS, "primary_category")


def paper_row(p: Paper) -> dict:
    row = {f: getattr(p, f) for f in PAPER_FIELDS}
    row["authors"], row["categories"] = list(p.authors), list(p.categories)
    row["primary_category"] = p.categories[0] if p.categories else None
    return row


def empty(v) -> bool:
    return v is None or v == "" or v == []


def is_newer(a: dict, b: dict) -> bool:
    """True when record a describes a strictly later state of the paper than b."""
    if a["version"] is not None and b["version"] is not None:
        return a["version"] > b["version"]
    if a["updated"] is not None and b["updated"] is not None:
        return a["updated"] > b["updated"]
    return False


def pick_value(values, fn):
    present = [v for v in values if v is not None]
    return fn(present) if present else None


def merge(stored: dict, incoming: dict) -> dict:
    """The content that results from applying `incoming` to `stored` (both CONTENT dicts)."""
    first, second = (incoming, stored) if is_newer(incoming, stored) else (stored, incoming)
    out = {f: first[f] if not empty(first[f]) else second[f] for f in CONTENT}
    if first["categories"]:
        out["primary_category"] = first["primary_category"]
    pair = (stored, incoming)
    out["listed_date"] = pick_value((r["listed_date"] for r in pair), min)
    out["published"] = pick_value((r["published"] for r in pair), min)
    out["updated"] = pick_value((r["updated"] for r in pair), max)
    out["version"] = pick_value((r["version"] for r in pair), max)
    return out


def full_row(key: str, content: dict, created_at: datetime, modified_at: datetime) -> dict:
    return {
        **content,
        "id": key,
        "title_norm": normalize_title(content["title"]),
        "created_at": created_at,
        "modified_at": modified_at,
    }
