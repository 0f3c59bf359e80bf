"""Degrader workers run each image's ops on one thread: torch's and OpenCV's (the OpenCV
forms of the CPU ops would otherwise split every small image over the machine's cores)."""

from __future__ import annotations

import pytest
import torch

from degrade._threads import one_intraop_thread


def test_one_intraop_thread_covers_opencv_and_restores() -> None:
    cv2 = pytest.importorskip("cv2")
    saved_torch, saved_cv = torch.get_num_threads(), cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        with one_intraop_thread():
            assert torch.get_num_threads() == 1
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 2
        assert torch.get_num_threads() == saved_torch
    finally:
        cv2.setNumThreads(saved_cv)
