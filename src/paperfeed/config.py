"""Settings, read from the environment (prefix PAPERFEED_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means the SQLite file data_dir/paperfeed.db.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Papers written per transaction during import: a crash loses at most one batch of work.
    ingest_batch_size: int = 2000
    # arXiv asks API clients to wait 3 seconds between calls.
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_api_delay: float = 3.0
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    hf_daily_url: str = "https://huggingface.co/api/daily_papers"
    page_size: int = 100
    # Bring the search indexes up to date after every `paperfeed ingest` (and `init --demo`).
    index_after_ingest: bool = True
    # Encoder for search: "onnx" (int8, fast; the default) or "reference" (sentence-transformers on torch).
    encoder: str = "onnx"
    # Where the exported ONNX model is cached; empty means data_dir/models.
    model_cache_dir: Path | None = None
    # Papers per index commit: a killed `paperfeed index` redoes at most this many.
    index_chunk: int = 1000

    # Web: signs CSRF tokens; empty means a random key kept in data_dir/secret.key (made on first start).
    secret_key: str = ""
    # Mark cookies Secure (set this when paperfeed is served over HTTPS).
    secure_cookies: bool = False
    # A search request that takes longer than this many seconds is answered 503 instead of stalling.
    query_timeout: float = 10.0
    # Failed logins allowed per client address and per account within the window, before 429.
    login_failures_per_ip: int = 20
    login_failures_per_account: int = 5
    login_window_seconds: int = 900
    # Days of listings that /trending ranks.
    trending_days: int = 3

    @property
    def model_cache(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperfeed.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
