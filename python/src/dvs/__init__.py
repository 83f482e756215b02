"""dvs from Python: snapshots as DataFrames, audio as NumPy, PyTorch datasets, lineage.

The package is thin: every read goes through one long-lived ``dvs batch`` process per Python
process (the formats have one implementation, dvs's), and lineage through dvs's own commands.

Example::

    import dvs
    repo = dvs.Repository(".")
    snap = repo.snapshot("cohort/es")
    df = snap.samples()
    audio, sr = snap.read("calls/es/0001.wav", sample_rate=16000, mono=True)
"""

from ._batch import PROTOCOL
from .errors import (
    DataError,
    DvsError,
    DvsNotFound,
    NotARepository,
    ProtocolError,
    RevisionNotFound,
    SampleNotFound,
    SnapshotRewritten,
    UsageError,
)
from .lineage import Run
from .repository import Repository, Snapshot

__version__ = "0.1.0"

__all__ = [
    "PROTOCOL",
    "DataError",
    "DvsError",
    "DvsNotFound",
    "NotARepository",
    "ProtocolError",
    "Repository",
    "RevisionNotFound",
    "Run",
    "SampleNotFound",
    "SnapshotRewritten",
    "Snapshot",
    "UsageError",
]
