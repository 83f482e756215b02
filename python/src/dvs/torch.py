"""PyTorch datasets over a dvs snapshot (imported only when used: torch is optional).

Each DataLoader worker process reads through its own ``dvs batch`` process, started lazily the
first time the worker reads (the repository keys its process by PID), so forked workers never
share a pipe.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

if TYPE_CHECKING:  # pragma: no cover
    from .repository import Snapshot


def _item(audio: Any, rate: int, path: str, index: int, label: Any, has_label: bool) -> Dict[str, Any]:
    item: Dict[str, Any] = {
        "audio": torch.from_numpy(audio),  # a writable array over its own buffer: no copy
        "sample_rate": rate,
        "path": path,
        "index": index,
    }
    if has_label:
        item["label"] = label
    return item


class SnapshotDataset(Dataset):  # type: ignore[type-arg]
    """Map-style dataset: ``ds[i]`` is sample ``i`` of the snapshot (path order), read with one
    blob read and decode. Items are dicts: ``audio`` (float32 Tensor, ``(frames,)`` mono or
    ``(frames, channels)``), ``sample_rate``, ``path``, ``index`` and, with ``label``, ``label``."""

    def __init__(
        self, snapshot: "Snapshot", label: Optional[str] = None, sample_rate: Optional[int] = None, mono: bool = True
    ) -> None:
        self.snapshot = snapshot
        self.label = label
        self.sample_rate = sample_rate
        self.mono = mono
        self._labels: Optional[List[Any]] = snapshot.labels(label) if label else None

    def __len__(self) -> int:
        return len(self.snapshot)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        if index < 0:
            index += len(self)
        a = self.snapshot.repository._client().request(
            self.snapshot._req("read", index=int(index), sample_rate=self.sample_rate, mono=self.mono, pcm="int16")
        )
        from ._batch import pcm_array

        pcm, rate = pcm_array(a)
        label = self._labels[index] if self._labels is not None else None
        return _item(pcm, rate, str(a.header["path"]), int(index), label, self._labels is not None)


class SnapshotIterable(IterableDataset):  # type: ignore[type-arg]
    """Iterable dataset over a snapshot that shards itself: with W DataLoader workers and R
    distributed ranks, worker w of rank r reads positions ``r*W + w``, ``+ R*W``, … of the order
    (path order, or a shuffle with seed ``shuffle + epoch``), so together they read every sample
    exactly once per epoch. Items as :class:`SnapshotDataset`'s."""

    def __init__(
        self,
        snapshot: "Snapshot",
        shuffle: Optional[int] = None,
        label: Optional[str] = None,
        sample_rate: Optional[int] = None,
        mono: bool = True,
        chunk: int = 64,
    ) -> None:
        self.snapshot = snapshot
        self.shuffle = shuffle
        self.label = label
        self.sample_rate = sample_rate
        self.mono = mono
        self.chunk = chunk
        self.epoch = 0
        self._labels: Optional[List[Any]] = snapshot.labels(label) if label else None

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch: the shuffle's seed is ``shuffle + epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.snapshot)

    def order(self) -> List[int]:
        """The whole snapshot's order for this epoch (before sharding)."""
        order = list(range(len(self.snapshot)))
        if self.shuffle is not None:
            random.Random(self.shuffle + self.epoch).shuffle(order)
        return order

    @staticmethod
    def _rank() -> Tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, ranks = self._rank()
        shard = rank * workers + worker
        mine = self.order()[shard :: ranks * workers]
        for index, path, pcm, rate in self.snapshot.iter_audio(
            mine, sample_rate=self.sample_rate, mono=self.mono, chunk=self.chunk
        ):
            label = self._labels[index] if self._labels is not None else None
            yield _item(pcm, rate, path, index, label, self._labels is not None)
