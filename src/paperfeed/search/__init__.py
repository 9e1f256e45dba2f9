"""Search: BM25 (tantivy), embeddings (all-MiniLM-L6-v2, offline), vectors (usearch), hybrid fusion."""

# onnxruntime must be loaded before usearch: the other order segfaults inside onnxruntime's import
# (seen with onnxruntime 1.32.0 and usearch 2.26.6). Every search module is imported through here.
import onnxruntime  # noqa: F401, I001
