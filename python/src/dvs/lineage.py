"""``Repository.run``: lineage recorded from a training script (model records and eval records
through ``dvs model add --metrics`` and ``dvs model add-eval``, the same records ``dvs run``
writes)."""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ._batch import run_cli
from .errors import DvsError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .repository import Repository, Snapshot


class Run:
    """A training run on one snapshot; use it as a context manager (``with repo.run(...) as run``).

    When the block ends without an exception, each artifact given to :meth:`log_artifact` is
    registered as a model record: the snapshot's commit (resolved when the run started, however
    the branch moves), the cohort predicate, the code commit of the git repository around the
    current directory, the parameters and label; then the metrics of :meth:`log_metrics` are
    recorded as eval records of that model, so ``dvs models --compare`` and ``dvs audit`` show
    them. A block that raises registers nothing (as ``dvs run`` after a failing command).

    Attributes:
        snapshot: the snapshot trained on.
        params: the training parameters (``log_params`` adds to them).
        records: after the block, the JSON records dvs printed for each registered artifact.
    """

    def __init__(
        self,
        repository: "Repository",
        rev: str,
        name: Optional[str] = None,
        params: Optional[Dict[str, Any]] = None,
        label: Optional[str] = None,
        task: Optional[str] = None,
        message: Optional[str] = None,
    ) -> None:
        self.repository = repository
        self.rev = rev
        self.snapshot: "Snapshot" = repository.snapshot(rev)
        self.name = name
        self.params: Dict[str, Any] = dict(params or {})
        self.label = label
        self.task = task
        self.message = message
        self.cwd = os.getcwd()
        self.records: List[Dict[str, Any]] = []
        self._artifacts: List[Tuple[str, Optional[str], Optional[int]]] = []
        # eval revision's commit -> {"metrics": {...}, "slices": {...}, "samples": n}
        self._evals: Dict[str, Dict[str, Any]] = {}

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            if not self._artifacts and self._evals:
                warnings.warn(
                    "the run logged metrics but no artifact, so nothing was registered: call run.log_artifact(PATH) in the block",
                    stacklevel=2,
                )
            self._register()

    def log_params(self, params: Dict[str, Any]) -> None:
        """Adds training parameters (kept as ``KEY=VALUE`` text in the model record)."""
        self.params.update(params)

    def log_metrics(
        self,
        metrics: Dict[str, float],
        slice: Optional[str] = None,
        rev: Optional[str] = None,
        samples: Optional[int] = None,
    ) -> None:
        """Records metrics the training code computed (accuracy, macro_f1 in 0…1; wer, cer, mae,
        rmse ≥ 0; real_time_factor; samples_per_second; other keys kept as given).

        Args:
            metrics: metric name → value.
            slice: ``FIELD=VALUE`` for a slice (``lang=es``), as ``dvs eval --by FIELD`` names them;
                None for the whole evaluation set.
            rev: the revision they were computed on (default: the run's snapshot).
            samples: how many samples they cover (the slice's, or the whole set's).

        Raises:
            UsageError: for a slice not spelled ``FIELD=VALUE``. RevisionNotFound: for ``rev``.
        """
        metrics = {k: _metric_value(k, v) for k, v in metrics.items()}
        commit = self.snapshot.commit if rev is None else self.repository.snapshot(rev).commit
        ev = self._evals.setdefault(commit, {"metrics": {}, "slices": {}})
        if slice is None:
            ev["metrics"].update(metrics)
            if samples is not None:
                ev["samples"] = samples
        else:
            if "=" not in slice or slice.startswith("="):
                raise UsageError(f"slice {slice!r} is not FIELD=VALUE", hint="for example slice='lang=es'", kind="usage")
            s = ev["slices"].setdefault(slice, {})
            s.update(metrics)
            if samples is not None:
                s["samples"] = samples

    def log_artifact(self, path: str, name: Optional[str] = None, parameter_count: Optional[int] = None) -> None:
        """Names a file the run produced (a model), registered when the block ends.

        Args:
            path: the file (relative to the current directory).
            name: display name (default: the run's name, else the file name).
            parameter_count: the model's learned parameters, as its trainer counts them.
        """
        self._artifacts.append((os.path.abspath(path), name or self.name, parameter_count))

    def _register(self) -> None:
        evals = list(self._evals.items())
        for path, name, count in self._artifacts:
            # The revision as written (a branch, a cohort) when it still names the snapshot the
            # run started from, so the record keeps its name; else the commit itself.
            try:
                same = self.repository.snapshot(self.rev).commit == self.snapshot.commit
            except DvsError:
                same = False
            args = [path, "--rev", self.rev if same else self.snapshot.commit]
            if name:
                args += ["--name", name]
            if self.message:
                args += ["-m", self.message]
            if self.label:
                args += ["--label", self.label]
            if self.task:
                args += ["--task", self.task]
            for k, v in self.params.items():
                args += ["--param", f"{k}={v}"]
            if count is not None:
                args += ["--parameter-count", str(count)]
            with tempfile.TemporaryDirectory() as tmp:
                files = []
                for i, (commit, ev) in enumerate(evals):
                    if not ev["metrics"] and ev["slices"]:
                        ev = dict(ev, metrics={})
                    f = os.path.join(tmp, f"eval{i}.json")
                    with open(f, "w") as fh:
                        json.dump(ev, fh)
                    files.append((commit, f))
                if files:
                    args += ["--metrics", files[0][1], "--eval-rev", files[0][0]]
                out = run_cli(self.repository.binary, self.repository.path, ["model", "add"], args + ["--json"], cwd=self.cwd)
                record = json.loads(out)
                for commit, f in files[1:]:
                    ev_out = run_cli(
                        self.repository.binary,
                        self.repository.path,
                        ["model", "add-eval"],
                        [record["id"], "--rev", commit, "--metrics", f, "--json"],
                        cwd=self.cwd,
                    )
                    record.setdefault("evals", []).append(json.loads(ev_out))
            self.records.append(record)


def _metric_value(name: str, value: Any) -> float:
    """A metric as a finite float: Python and NumPy numbers, and one-element tensors (``.item()``).

    Raises:
        UsageError: for anything else, or NaN or an infinity, when it is logged (not when the run ends).
    """
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        raise UsageError(
            f"metric {name!r} is {type(value).__name__} {value!r}, not a number",
            hint="log a number, e.g. float(loss) or accuracy.item()",
            kind="usage",
        ) from None
    if math.isnan(number) or math.isinf(number):
        raise UsageError(f"metric {name!r} is {number}, not a finite number", hint="log a finite value", kind="usage")
    return number
