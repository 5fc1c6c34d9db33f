"""The torch networks: the lead-wise disease CNN and the 12-lead ResNet (attributes, age/sex).

Imported lazily (it imports torch); build networks with ``build_network(kind, **hparams)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ResBlock1d(nn.Module):
    """Two convolutions with batch norm and a projected skip connection (He et al., 1-D)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, dropout: float) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.drop = nn.Dropout(dropout)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(self.drop(out)))
        return torch.relu(out + self.skip(x))


def residual_stack(channels: tuple[int, ...], kernel: int, dropout: float) -> nn.Sequential:
    """One stride-2 ``ResBlock1d`` per entry of ``channels``, starting from ``channels[0]`` inputs."""
    widths = (channels[0], *channels)
    return nn.Sequential(*(ResBlock1d(c_in, c_out, kernel, 2, dropout) for c_in, c_out in zip(widths, widths[1:])))


class LeadEncoder(nn.Module):
    """Shared 1-D residual encoder for ONE lead: (batch, 1, samples) -> (batch, 2 * channels[-1])."""

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), kernel: int = 7, dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(1, channels[0], kernel, stride=2, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(channels[0]), nn.ReLU(), nn.MaxPool1d(2),
        )
        self.blocks = residual_stack(channels, kernel, dropout)
        self.out_dim = 2 * channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)


class LeadwiseNet(nn.Module):
    """XAND-ECG style: the same encoder on each lead, lead embeddings concatenated, an MLP head.

    Input (batch, 12, samples) preprocessed; output logits (batch,) for ``n_outputs == 1`` or when
    ``select_output`` is set (that one of the ``n_outputs`` logits: a multi-task network restricted to
    one task, same weights), else (batch, n_outputs).
    """

    def __init__(self, n_leads: int = 12, channels: tuple[int, ...] = (16, 32, 64), kernel: int = 7,
                 hidden: int = 64, dropout: float = 0.1, head_dropout: float = 0.3, n_outputs: int = 1,
                 select_output: int | None = None) -> None:
        super().__init__()
        from ..errors import ModelError

        if select_output is not None and not 0 <= select_output < n_outputs:
            raise ModelError(f"select_output {select_output} is not one of the {n_outputs} outputs")
        self.n_leads = n_leads
        self.n_outputs = n_outputs
        self.select_output = select_output
        self.encoder = LeadEncoder(tuple(channels), kernel, dropout)
        self.head = nn.Sequential(
            nn.Dropout(head_dropout), nn.Linear(n_leads * self.encoder.out_dim, hidden), nn.ReLU(),
            nn.Dropout(head_dropout), nn.Linear(hidden, n_outputs),
        )

    def lead_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, leads, samples) -> (batch, leads, embedding)."""
        batch, leads, samples = x.shape
        emb = self.encoder(x.reshape(batch * leads, 1, samples))
        return emb.reshape(batch, leads, -1)

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the :meth:`forward` logits, the concatenated lead embeddings (batch, leads * embedding)):
        what the training-only auxiliary heads (:class:`AuxHeads`) read."""
        emb = self.lead_embeddings(x).flatten(1)
        out = self.head(emb)
        if self.select_output is not None:
            return out[:, self.select_output], emb
        return (out[:, 0] if self.n_outputs == 1 else out), emb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_embedding(x)[0]


class AuxHeads(nn.Module):
    """Training-only auxiliary heads (``aux30`` variant): one linear layer per head on a
    :class:`LeadwiseNet`'s concatenated lead embeddings. Kept apart from the network, so the saved
    weights, ONNX export and attributions see only the disease network."""

    def __init__(self, in_dim: int, sizes: dict[str, int]) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({name: nn.Linear(in_dim, n) for name, n in sizes.items()})

    def forward(self, emb: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, in_dim) embeddings -> per head its (batch, outputs) logits."""
        return {name: head(emb) for name, head in self.heads.items()}


class ResNet12(nn.Module):
    """A small 12-lead 1-D ResNet in the style of Ribeiro et al. (CODE): leads as channels,
    residual blocks halving the length, global average pooling, a linear layer."""

    def __init__(self, n_leads: int = 12, channels: tuple[int, ...] = (32, 64, 96, 128), kernel: int = 9,
                 dropout: float = 0.2, n_outputs: int = 1) -> None:
        super().__init__()
        self.n_outputs = n_outputs
        self.stem = nn.Sequential(
            nn.Conv1d(n_leads, channels[0], kernel, stride=2, padding=kernel // 2, bias=False),
            nn.BatchNorm1d(channels[0]), nn.ReLU(),
        )
        self.blocks = residual_stack(channels, kernel, dropout)
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels[-1], n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        out = self.fc(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))
        return out[:, 0] if self.n_outputs == 1 else out


NETWORKS: dict[str, type[nn.Module]] = {"leadwise": LeadwiseNet, "resnet12": ResNet12}


def build_network(kind: str, hparams: dict[str, Any]) -> nn.Module:
    """A fresh network of ``kind`` (``leadwise`` or ``resnet12``) with the given hyper-parameters."""
    from ..errors import ModelError

    if kind not in NETWORKS:
        raise ModelError(f"unknown network kind {kind!r}; expected one of {', '.join(NETWORKS)}")
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()}
    return NETWORKS[kind](**args)
