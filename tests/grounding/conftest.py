"""Shared fakes of the grounding tests (import with ``from .conftest import TanhModel``)."""

from __future__ import annotations

import numpy as np

from ecgqa_tools.records import ECG


class TanhModel:
    """A small nonlinear CNN on 100 Hz input (completeness must hold for any baseline, not only
    linear heads); the ECG is used as is, or z-scored per lead with ``zscore=True``."""

    fs_hz = 100.0

    def __init__(self, zscore: bool = False) -> None:
        import torch

        torch.manual_seed(0)
        self.zscore = zscore
        self.module = torch.nn.Sequential(
            torch.nn.Conv1d(12, 4, kernel_size=7, padding=3), torch.nn.Tanh(),
            torch.nn.Conv1d(4, 1, kernel_size=3, padding=1), torch.nn.AdaptiveAvgPool1d(1),
            torch.nn.Flatten(0),
        )

    def preprocess(self, ecg: ECG) -> np.ndarray:
        x = ecg.signal_mv.astype(np.float32)
        if not self.zscore:
            return x
        return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)
