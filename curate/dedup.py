"""Global dedup: exact (sha256), near (pHash, Hamming radius) and embedding (cosine).

Similar pairs come from FAISS range searches; pairs are grouped into connected components
(``scipy.sparse.csgraph``), so A~B and B~C put A, B and C in one group even when A and C are
further apart. Each group keeps its best member: the largest (pixels), then the first (in
manifest order); the others point at it with ``dup_of``.

Index choice:

* pHash: FAISS ``IndexBinaryFlat`` (exact, O(N^2) popcounts), beyond ``BINARY_FLAT_MAX`` a
  multi-index hash (Norouzi et al., "Fast search in Hamming space with multi-index
  hashing", CVPR 2012), written here in numpy because FAISS's ``IndexBinaryMultiHash``
  probes bit flips one by one (timings in ``docs/measured.md``). The code is cut into 3
  substrings of ~21 bits; two codes within ``radius`` differ in at most ``radius // 3``
  bits on one of them (pigeonhole), so probing every bucket within that many flips of each
  substring finds every pair: exact, like the flat index.
* embeddings: ``IndexFlatIP`` (exact) up to ``EMBED_FLAT_MAX`` vectors, ``IndexIVFFlat``
  (approximate, nprobe 16) beyond.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

BINARY_FLAT_MAX = 20_000
EMBED_FLAT_MAX = 50_000


def hamming_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of 64-bit codes within Hamming distance ``radius`` (inclusive).

    Args:
        codes: ``(N, 8)`` uint8 packed hashes.
        radius: largest distance counted as similar.

    Returns:
        ``(P,)`` and ``(P,)`` int64 indices.
    """
    import faiss

    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != 8:
        raise ValueError(f"hamming_pairs: expected (N, 8) uint8 codes, got {codes.shape}")
    if len(codes) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(codes) > BINARY_FLAT_MAX:
        return _multi_index_pairs(codes, radius)
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    lims, _, ids = index.range_search(codes, radius + 1)  # FAISS keeps distance < radius
    return _upper_pairs(lims, ids)


def _flip_masks(bits: int, flips: int) -> list[int]:
    """Every ``bits``-bit mask with at most ``flips`` bits set (0 first)."""
    from itertools import combinations

    return [sum(1 << b for b in c) for k in range(flips + 1) for c in combinations(range(bits), k)]


def _multi_index_pairs(codes: np.ndarray, radius: int, tables: int = 3):
    """Exact Hamming range self-join by multi-index hashing (see module docstring).

    Works in each table's sorted order, so bucket look-ups of neighbouring probes touch
    neighbouring memory (several times faster than probing in input order).
    """
    n = len(codes)
    x = codes.view(">u8").ravel().astype(np.uint64)
    widths = [64 // tables + (t < 64 % tables) for t in range(tables)]
    found: list[np.ndarray] = []
    shift = 64
    for width in widths:
        shift -= width
        key = ((x >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
        order = np.argsort(key, kind="stable")
        sorted_key, sorted_x = key[order], x[order]
        sizes = np.bincount(key, minlength=1 << width)
        starts = np.cumsum(sizes) - sizes  # bucket b is sorted_*[starts[b]:starts[b] + sizes[b]]
        for mask in _flip_masks(width, radius // tables):
            probe = sorted_key ^ mask
            count = sizes[probe]
            hit = np.flatnonzero(count)
            if not len(hit):
                continue
            count = count[hit]
            p = np.repeat(hit, count)
            q = np.repeat(starts[probe[hit]] - (np.cumsum(count) - count), count)
            q += np.arange(len(p))
            keep = p < q
            p, q = p[keep], q[keep]
            near = np.bitwise_count(sorted_x[p] ^ sorted_x[q]) <= radius
            a, b = order[p[near]], order[q[near]]
            found.append(np.minimum(a, b) * n + np.maximum(a, b))
    flat = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    return flat // n, flat % n


def embedding_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of unit vectors with cosine (inner product) above ``threshold``.

    Args:
        vectors: ``(N, D)`` float32, unit norm.
        threshold: cosine above which two vectors are duplicates.

    Returns:
        ``(P,)`` and ``(P,)`` int64 indices.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if n <= EMBED_FLAT_MAX:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        index.train(vectors[rng.choice(n, size=min(n, 64 * nlist), replace=False)])
        index.nprobe = 16
    index.add(vectors)
    lims, _, ids = index.range_search(vectors, float(threshold))
    return _upper_pairs(lims, ids)


def _upper_pairs(lims: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(len(lims) - 1), np.diff(lims.astype(np.int64)))
    keep = rows < ids
    return rows[keep].astype(np.int64), ids[keep].astype(np.int64)


def exact_pairs(digests: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs linking every equal digest to the first one with that digest."""
    first: dict[str, int] = {}
    left, right = [], []
    for i, digest in enumerate(digests):
        j = first.setdefault(digest, i)
        if j != i:
            left.append(j)
            right.append(i)
    return np.asarray(left, np.int64), np.asarray(right, np.int64)


def group_best(
    n: int, pairs: tuple[np.ndarray, np.ndarray], area: np.ndarray, size: np.ndarray | None = None
) -> np.ndarray:
    """For every item, the index of the member its group keeps.

    Args:
        n: number of items.
        pairs: ``(i, j)`` similar pairs.
        area: ``(N,)`` pixels of each item: the largest wins.
        size: ``(N,)`` encoded bytes, the first tie-break (at equal pixels the bigger file is
            the less compressed copy, the one a quality model wants); then the lowest index.

    Returns:
        ``(N,)`` int64: ``best[i] == i`` for kept items.
    """
    if n == 0:
        return np.zeros(0, np.int64)
    i, j = pairs
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Sort by (label, -area, index): the first of each label is its best member.
    size = np.zeros(n) if size is None else np.asarray(size, np.float64)
    order = np.lexsort((np.arange(n), -size, -np.asarray(area, np.float64), labels))
    firsts = order[np.r_[True, labels[order][1:] != labels[order][:-1]]]
    best_of_label = np.empty(labels.max() + 1, np.int64)
    best_of_label[labels[firsts]] = firsts
    return best_of_label[labels]
