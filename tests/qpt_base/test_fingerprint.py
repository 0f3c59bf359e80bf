"""qpt_base.fingerprint: order-free fingerprints and file hashes."""

from __future__ import annotations

from qpt_base import (
    fingerprint,
    sha256_file,
)


def test_fingerprint_and_file_hash(tmp_path):
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint(1) != fingerprint(2) and len(fingerprint(1)) == 16
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f").startswith("ba7816bf")
