"""``dvs.Repository`` and ``dvs.Snapshot``: a dvs repository and its immutable snapshots."""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ._batch import BatchProcess, chunks, dvs_binary, pcm_array, run_cli
from .errors import NotARepository, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import numpy
    import pandas

    from .lineage import Run

SampleRef = Union[str, int]
"""A sample: its path in the snapshot (relative to the repository root) or its index (path order)."""


class Repository:
    """A dvs repository, read through one long-lived ``dvs batch`` process per Python process.

    The process starts on first use in each process (a DataLoader worker forked from this one
    starts its own, so no two processes share a pipe) and ends with :meth:`close` or the
    interpreter.

    Args:
        path: a folder inside the repository (default: the current directory).
        dvs: the dvs executable (default: ``$DVS_BIN``, else ``dvs`` on ``PATH``).

    Raises:
        NotARepository: when ``path`` is not inside a dvs repository.
        DvsNotFound: when there is no dvs binary.
        ProtocolError: when the binary speaks another batch protocol version.

    Example::

        repo = dvs.Repository(".")
        snap = repo.snapshot("cohort/es")
        df = snap.samples()
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"] = ".", dvs: Optional[str] = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if not os.path.isdir(self.path):
            raise NotARepository(
                f"no folder {self.path}",
                hint="give the path of a dvs working tree (the folder that holds .dvs)",
                kind="notARepository",
            )
        self.binary = dvs_binary(dvs)
        self._local = threading.Lock()
        self._batch: Optional[BatchProcess] = None
        self._batch_pid = -1
        self._client()  # fail now on a folder that is no repository or a binary of another protocol

    # -- the batch process, per PID ---------------------------------------------------------

    def _client(self) -> BatchProcess:
        pid = os.getpid()
        with self._local:
            if self._batch is None or self._batch_pid != pid:
                # In a forked child the parent's process object is dropped untouched.
                self._batch = BatchProcess(self.binary, self.path)
                self._batch_pid = pid
            return self._batch

    def __getstate__(self) -> Dict[str, Any]:
        # Pickled into a spawned DataLoader worker: it starts its own process there.
        return {"path": self.path, "binary": self.binary}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.path = state["path"]
        self.binary = state["binary"]
        self._local = threading.Lock()
        self._batch = None
        self._batch_pid = -1

    def close(self) -> None:
        """Ends this process's dvs batch process (another use starts a new one)."""
        with self._local:
            if self._batch is not None and self._batch_pid == os.getpid():
                self._batch.close()
            self._batch = None
            self._batch_pid = -1

    def __enter__(self) -> "Repository":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"dvs.Repository({self.path!r})"

    @property
    def dvs_version(self) -> str:
        """The version of the dvs binary this repository is read with."""
        return self._client().version

    # -- snapshots --------------------------------------------------------------------------

    def snapshot(self, rev: str = "HEAD") -> "Snapshot":
        """The snapshot ``rev`` names (a branch, tag, cohort, commit id, ``HEAD~2``), resolved
        now to its commit: it never moves afterwards.

        Raises:
            RevisionNotFound: when ``rev`` names no commit.
        """
        h = self._client().request({"op": "open", "rev": rev}).header
        return Snapshot(self, rev, h["commit"], int(h["samples"]), float(h["hours"]))

    def query(self, sql: str, rev: str = "HEAD") -> "pandas.DataFrame":
        """``snapshot(rev).query(sql)``."""
        return self.snapshot(rev).query(sql)

    # -- lineage (one-shot dvs commands) ----------------------------------------------------

    def _cli_json(self, command: List[str], args: List[str]) -> Any:
        return json.loads(run_cli(self.binary, self.path, command, args + ["--json"]))

    def models(self) -> "pandas.DataFrame":
        """The model records (``dvs models --json``), one row per record, newest last."""
        import pandas as pd

        data = self._cli_json(["models"], [])
        rows = data if isinstance(data, list) else data.get("models", [])
        return pd.DataFrame(rows)

    def audit(self, artifact: str) -> Union[Dict[str, Any], List[Dict[str, Any]]]:
        """What a model file was trained on (``dvs audit PATH --json``): snapshot, code commit,
        parameters, evals; a list when several records hold the same file.

        Raises:
            DvsError: when the file is not a registered model (with dvs's hint).
        """
        out: Union[Dict[str, Any], List[Dict[str, Any]]] = self._cli_json(["audit"], [os.path.abspath(artifact)])
        return out

    def diff(self, a: str, b: str) -> Dict[str, Any]:
        """What changed from snapshot ``a`` to ``b`` (``dvs diff A B --json``).

        Raises:
            RevisionNotFound: when either names no commit.
        """
        ca, cb = self.snapshot(a).commit, self.snapshot(b).commit
        out: Dict[str, Any] = self._cli_json(["diff"], [ca, cb])
        return out

    def run(
        self,
        rev: str,
        name: Optional[str] = None,
        params: Optional[Dict[str, Any]] = None,
        label: Optional[str] = None,
        task: Optional[str] = None,
        message: Optional[str] = None,
    ) -> "Run":
        """A training run on snapshot ``rev``, as a context manager: artifacts logged with
        :meth:`Run.log_artifact` are registered as model records (snapshot, code commit of the
        git repository around the current directory, parameters) when the block ends without an
        exception, with the metrics of :meth:`Run.log_metrics` as eval records.

        Raises:
            RevisionNotFound: when ``rev`` names no commit.
        """
        from .lineage import Run

        return Run(self, rev, name=name, params=params, label=label, task=task, message=message)


class Snapshot:
    """One resolved, immutable snapshot of a repository (a commit).

    Attributes:
        repository: the repository.
        rev: the revision as given.
        commit: the commit id (hex) it resolved to.
        hours: total stored audio duration, in hours.
    """

    def __init__(self, repository: Repository, rev: str, commit: str, count: int, hours: float) -> None:
        self.repository = repository
        self.rev = rev
        self.commit = commit
        self.hours = hours
        self._count = count
        self._paths: Optional[List[str]] = None
        self._labels: Dict[str, List[Any]] = {}

    def __len__(self) -> int:
        """The number of audio samples."""
        return self._count

    def __repr__(self) -> str:
        return f"dvs.Snapshot({self.rev!r}, commit={self.commit[:12]}, samples={self._count})"

    def _req(self, op: str, **kw: Any) -> Dict[str, Any]:
        r: Dict[str, Any] = {"op": op, "commit": self.commit}
        r.update({k: v for k, v in kw.items() if v is not None})
        return r

    # -- tables -----------------------------------------------------------------------------

    def query(self, sql: str) -> "pandas.DataFrame":
        """One read-only SQL statement over the snapshot's ``sample``, ``segment`` and ``word``
        tables (``dvs query --help``), as a DataFrame with the statement's columns in order.

        Raises:
            DataError: for SQL that does not parse or that writes (dvs's message and hint).
        """
        import pandas as pd

        a = self.repository._client().request(self._req("query", sql=sql))
        return pd.DataFrame(a.json(), columns=a.header["columns"])

    def samples(self) -> "pandas.DataFrame":
        """Every sample: audio facts, labels and transcript summary (``SELECT * FROM sample``,
        the rows ``dvs query --json`` gives), one row per sample."""
        return self.query("SELECT * FROM sample")

    def to_arrow(self) -> Any:
        """:meth:`samples` as a ``pyarrow.Table`` (needs pyarrow)."""
        import pyarrow as pa

        return pa.Table.from_pandas(self.samples(), preserve_index=False)

    def words(self, sample: SampleRef) -> "pandas.DataFrame":
        """The transcript's words of one sample: start, end (seconds), word, confidence,
        speaker, channel; empty when it has no transcript.

        Raises:
            SampleNotFound: when the snapshot has no audio sample at that path.
        """
        import pandas as pd

        a = self.repository._client().request(self._req("words", **_ref(sample, self._count)))
        return pd.DataFrame(a.json(), columns=a.header["columns"])

    @property
    def paths(self) -> List[str]:
        """The samples' paths in index order (path order)."""
        if self._paths is None:
            a = self.repository._client().request(self._req("entries"))
            self._paths = list(a.json()["paths"])
        return self._paths

    def labels(self, field: str) -> List[Any]:
        """Label ``field`` of every sample, in index order (None where a sample has none)."""
        if field not in self._labels:
            a = self.repository._client().request(self._req("entries", labels=[field]))
            values = list(a.json()["labels"][field])
            if all(v is None for v in values):
                # A misspelt field would otherwise label every sample None, silently.
                columns = list(self.query("SELECT * FROM sample WHERE 0").columns)
                if field not in columns:
                    raise UsageError(
                        f"no label field {field!r} in snapshot {self.commit[:12]} ({self.rev})",
                        hint="the sample table's columns (its label fields among them): " + ", ".join(columns),
                        kind="usage",
                    )
            self._labels[field] = values
        return self._labels[field]

    # -- audio ------------------------------------------------------------------------------

    def read(
        self,
        sample: SampleRef,
        dtype: str = "float32",
        sample_rate: Optional[int] = None,
        mono: bool = False,
    ) -> Tuple["numpy.ndarray", int]:
        """One sample's audio, decoded by dvs (libsndfile), optionally mixed down to one channel
        and resampled (libsamplerate): ``(array, sample_rate)``, values −1…1 of full scale; shape
        ``(frames,)`` for one channel, ``(frames, channels)`` for more.

        Args:
            sample: the path or index of the sample.
            dtype: ``"float32"`` (as decoded) or ``"float64"``.
            sample_rate: resample to this rate (Hz); None keeps the file's.
            mono: average the channels into one.

        Raises:
            SampleNotFound: no audio sample at that path. UsageError: an index out of range, a
            rate ≤ 0 or another dtype. DataError: the stored sample is damaged or does not decode.
        """
        _check_dtype(dtype)
        a = self.repository._client().request(
            self._req("read", sample_rate=sample_rate, mono=mono, pcm="int16", **_ref(sample, self._count))
        )
        pcm, rate = pcm_array(a)
        return (pcm if dtype == "float32" else pcm.astype(dtype)), rate

    def iter_audio(
        self,
        indices: Optional[Sequence[int]] = None,
        sample_rate: Optional[int] = None,
        mono: bool = False,
        chunk: int = 64,
    ) -> Iterator[Tuple[int, str, "numpy.ndarray", int]]:
        """``(index, path, audio, sample_rate)`` for samples ``indices`` (default: all, in path
        order), decoded ahead on dvs's worker threads ``chunk`` samples at a time.

        Raises:
            UsageError, DataError: as :meth:`read`.
        """
        order = list(range(self._count)) if indices is None else [int(i) for i in indices]
        client = self.repository._client()
        parts = list(chunks(order, max(1, chunk)))

        def submit(part: List[int]) -> int:
            return client.submit_many(
                self._req("read_many", indices=part, sample_rate=sample_rate, mono=mono, pcm="int16"), len(part)
            )

        # The next chunk is asked for before this one is handed out, so dvs decodes it while the
        # caller works on this one.
        ticket = submit(parts[0]) if parts else None
        try:
            for k in range(len(parts)):
                assert ticket is not None
                current, ticket = ticket, None
                answers = client.collect(current)
                ticket = submit(parts[k + 1]) if k + 1 < len(parts) else None
                for a in answers:
                    pcm, rate = pcm_array(a)
                    yield int(a.header["index"]), str(a.header["path"]), pcm, rate
        finally:
            if ticket is not None:
                client.discard(ticket)  # the caller stopped early: the answers still owed are dropped

    # -- PyTorch ----------------------------------------------------------------------------

    def torch_dataset(
        self, label: Optional[str] = None, sample_rate: Optional[int] = None, mono: bool = True
    ) -> Any:
        """A map-style ``torch.utils.data.Dataset``: ``ds[i]`` reads sample ``i`` (one blob read
        and decode, no scan) as ``{"audio": Tensor, "sample_rate", "path", "index"[, "label"]}``.

        Raises:
            ImportError: when torch is not installed.
        """
        from .torch import SnapshotDataset

        return SnapshotDataset(self, label=label, sample_rate=sample_rate, mono=mono)

    def torch_iterable(
        self,
        shuffle: Optional[int] = None,
        label: Optional[str] = None,
        sample_rate: Optional[int] = None,
        mono: bool = True,
        chunk: int = 64,
    ) -> Any:
        """An iterable ``torch.utils.data.IterableDataset`` over the snapshot that shards itself
        across DataLoader workers and distributed ranks (each sample read once per epoch),
        in path order or shuffled with seed ``shuffle`` (plus the epoch, see ``set_epoch``).

        Raises:
            ImportError: when torch is not installed.
        """
        from .torch import SnapshotIterable

        return SnapshotIterable(
            self, shuffle=shuffle, label=label, sample_rate=sample_rate, mono=mono, chunk=chunk
        )


def _ref(sample: SampleRef, count: int) -> Dict[str, Any]:
    """The request fields naming ``sample``: a path, or an index (negative counts from the end,
    as Python sequences do)."""
    if isinstance(sample, bool):
        raise UsageError(f"sample {sample!r} is neither a path nor an index", kind="usage")
    if isinstance(sample, int):
        return {"index": sample + count if -count <= sample < 0 else sample}
    return {"path": os.fspath(sample)}


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float32", "float64"):
        raise UsageError(
            f"dtype {dtype!r} is not supported", hint="use 'float32' (as decoded) or 'float64'", kind="usage"
        )
