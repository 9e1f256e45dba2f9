"""Settings, read from the environment (prefix PAPERFEED_) or a .env file."""

from __future__ import annotations

import os
import secrets
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
    # How often `paperfeed serve` checks its search indexes (and repairs a damaged one), in seconds.
    index_check_interval: float = 30.0
    # `paperfeed serve` brings a search index that is behind the store up to date itself, in a background
    # process (`paperfeed index`), while it serves: the lists at once, search by keywords until the
    # meanings are embedded.
    index_in_background: bool = True
    # How often `paperfeed serve` reads the store's change log for papers added or changed by any process or
    # node (seconds): the lag before another node's import is searchable here.
    index_follow_interval: float = 2.0

    # Web: signs CSRF tokens; empty means a random key kept in data_dir/secret.key (made on first start).
    secret_key: str = ""
    # Mark cookies Secure (set this when paperfeed is served over HTTPS).
    secure_cookies: bool = False
    # A search request that takes longer than this many seconds is answered 503 instead of stalling.
    query_timeout: float = 10.0
    # Overload: at most this many requests are worked on at once; one that waits longer than
    # admission_wait seconds for its turn (or finds admission_queue others waiting) gets 503 + Retry-After.
    max_inflight: int = 4
    admission_wait: float = 0.5
    admission_queue: int = 100
    # A request turned away is answered no sooner than this many seconds after it came (the Retry-After it
    # carries): a client that asks again at once, as browsers and most scripts do, is paced by the server
    # instead of keeping it busy writing refusals. At most admission_parked such answers wait at once.
    admission_refuse_after: float = 1.0
    admission_parked: int = 2000
    # Request limits: body size, the time a body (each part) and a request's headers may take to arrive.
    # /healthz computes its answer at most once in this many seconds (a flood of checks costs one).
    health_ttl: float = 1.0
    max_body_bytes: int = 1_048_576
    body_timeout: float = 30.0
    header_timeout: float = 10.0
    # Failed logins allowed per client address within the window, before 429; per address and account,
    # the free tries before each further try waits 1, 2, 4, … seconds (no account is ever locked).
    login_failures_per_ip: int = 20
    login_failures_per_account: int = 5
    login_window_seconds: int = 900
    # New accounts per client address per hour.
    registrations_per_ip: int = 10
    # A library file (BibTeX, ids) larger than 64 KB is read in a process of its own, two at a time per serving
    # process; one that takes longer than this many seconds is refused as too slow to import.
    import_seconds: float = 60.0
    # Comments one account may post (discussions under papers), per minute and per hour.
    comments_per_minute: int = 5
    comments_per_hour: int = 60
    # Days of listings that /trending ranks.
    trending_days: int = 3

    # Email digests. The address links in mail point to (no trailing slash).
    base_url: str = "http://127.0.0.1:8000"
    mail_from: str = "paperfeed <paperfeed@localhost>"
    # SMTP: empty host means digests are composed into the outbox but not sent.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_password_file: Path | None = None  # read at send time; never logged
    smtp_timeout: float = 30.0
    # Messages per minute at most (many providers throttle senders).
    digest_rate_per_minute: int = 600
    # Transient failures (4xx, dropped connections, timeouts) wait base * 2^attempt seconds, up to max_attempts.
    digest_retry_base_seconds: float = 60.0
    digest_max_attempts: int = 8
    # A run keeps retrying within itself while the next retry is due within this many seconds.
    digest_run_max_wait: float = 120.0
    # A row claimed by a process on another machine (or alive here) is left alone this long.
    digest_lease_seconds: int = 600
    # Send a digest that has no papers ("nothing new today") instead of skipping it.
    digest_send_empty: bool = False
    # Webhooks: seconds a receiver may take, retries (base * 4^attempt seconds apart), and whether a hook may
    # point at a private, loopback or link-local address (off: a user must not reach the lab's own services).
    webhook_timeout: float = 5.0
    webhook_retry_base_seconds: float = 60.0
    webhook_max_attempts: int = 5
    webhook_allow_private: bool = False
    # How often `paperfeed serve --with-scheduler` runs the digest job.
    scheduler_interval: float = 60.0
    # `paperfeed sync` (and the scheduler): what to follow, defaults an admin can change on /admin/sources.
    sync_categories: str = "cs.LG,cs.CL,cs.CV,cs.AI,stat.ML"
    sync_hf: bool = True
    # Named in the User-Agent of every upstream request, as arXiv asks of harvesters.
    contact_email: str = ""
    # Seconds between two upstream requests (arXiv asks for at least 3), and the longest Retry-After obeyed.
    sync_delay: float = 3.0
    sync_max_retry_after: float = 600.0
    # Every upstream answer: read whole within this many seconds (a server dripping bytes is cut off), and at
    # most this many bytes (a bigger body is not read).
    sync_answer_seconds: float = 120.0
    sync_answer_bytes: int = 64 * 2**20
    # One run of one source may send this many requests, read this many bytes and take this many seconds; a run
    # that reaches one ends with the reason shown on /admin/sources, and the next run goes on where it stopped.
    sync_run_requests: int = 1000
    sync_run_bytes: int = 2**30
    sync_run_seconds: float = 3000.0
    # The scheduler: arXiv every hour (new listings appear about 00:00 UTC Sunday-Thursday; an hourly check
    # costs one request per archive when nothing is new), Hugging Face every 3 hours.
    sync_interval: float = 3600.0
    hf_sync_interval: float = 10800.0
    # A first sync fetches this many days back; HF upvotes keep moving, so its last days are read again.
    sync_first_days: int = 3
    hf_refresh_days: int = 3

    @property
    def model_cache(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperfeed.db').resolve()}"


def secret_key(settings: Settings) -> str:
    """The configured key, or one made once and kept beside the database (readable by its owner only).
    It signs CSRF tokens and the links in emails (verify, unsubscribe)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret.key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic: the first process to link wins, every process reads its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
