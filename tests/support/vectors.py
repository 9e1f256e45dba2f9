"""The real encoder, remembering its vectors for the next build of the same sample and for the app and CLI
that tests run in their own process."""

from __future__ import annotations

import fcntl
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np


class RememberingEncoder:
    """The encoder the tests use, whose vectors are kept in a file (by text) that later builds of the indexed
    sample read: `make test` builds that sample once per worker and per store, and embedding its 466 papers
    was most of each build (about 17 s of a core); the app and the CLI a test runs in its own process embed
    through it too (conftest.remember_in_process). Every vector is the encoder's own, made in this run; the
    file lives in the run's model folder (conftest.model_cache) and is written whole, then renamed."""

    def __init__(self, encoder, path: Path):
        self.encoder, self.path = encoder, path
        self.name, self.dim = encoder.name, encoder.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.encoder.encode(texts)
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        known = self._read()
        if any(k not in known for k in keys):
            # One process embeds at a time and the others then read its vectors: two test workers embedding
            # the sample at once each took twice as long, on the same two cores.
            with open(self.path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                known = self._read()
                missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
                if missing:
                    known.update(zip(missing, self.encoder.encode(list(missing.values())), strict=True))
                    self._write(known)
        return np.stack([known[k] for k in keys]).astype(np.float32)

    def _read(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return {}

    def _write(self, known: dict[str, np.ndarray]) -> None:
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.npz")
        with open(tmp, "wb") as f:
            np.savez(f, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
        os.replace(tmp, self.path)


def remembering_words(fit_words):
    """rank.terms.fit_words, remembering each vocabulary it fits in this process: hundreds of tests ask For you
    on a copy of the same sample, and each fitted its words again (0.25 s of a core a time). A fit is a pure
    function of the texts, so what is remembered is what fitting again would give."""
    known: dict[str, object] = {}

    def fit(texts: list[str]):
        key = hashlib.sha256("\0".join(texts).encode()).hexdigest() + str(len(texts))
        if key not in known:
            known[key] = fit_words(texts)
        return known[key]

    return fit
