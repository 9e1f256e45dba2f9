"""Importers: one module per source. Each yields `Paper` or `Rejected` items and knows nothing
of the database; `paperfeed.store.importer` writes what they yield."""

SOURCES = ("arxiv-snapshot", "arxiv-api", "arxiv-oai", "hf-daily", "hf-page")
