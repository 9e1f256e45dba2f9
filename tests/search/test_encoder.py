import numpy as np

from paperfeed.search.encoder import DIM, OnnxEncoder, ReferenceEncoder, ensure_onnx, paper_text


def test_the_fast_encoder_matches_the_reference_on_real_abstracts(encoder, sample_papers):
    # Every 12th paper of the sample: 39 real title+abstract texts of every length.
    texts = [paper_text(p.title, p.abstract) for p in sample_papers[::12]]
    fast = encoder.encode(texts)
    reference = ReferenceEncoder().encode(texts)
    assert fast.shape == reference.shape == (len(texts), DIM)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-3)
    cosines = (fast * reference).sum(axis=1)
    assert cosines.min() >= 0.99, cosines.min()
    # And the order of neighbours is kept: each text's nearest other text is the same under both.
    near_fast = np.argsort(-(fast @ fast.T), axis=1)[:, 1]
    near_ref = np.argsort(-(reference @ reference.T), axis=1)[:, 1]
    assert (near_fast == near_ref).mean() >= 0.9


def test_batching_and_order_do_not_change_vectors(encoder, sample_papers):
    texts = [p.title for p in sample_papers[:40]]
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode([t])[0] for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-6)
    assert encoder.encode([]).shape == (0, DIM)


def test_the_exported_model_is_cached_and_reused(model_cache, encoder):
    path = ensure_onnx(model_cache)
    stamp = path.stat().st_mtime_ns
    assert ensure_onnx(model_cache) == path and path.stat().st_mtime_ns == stamp
    assert OnnxEncoder(model_cache).encode(["a test"]).shape == (1, DIM)
