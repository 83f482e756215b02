"""Exceptions raised by the dvs package: dvs's own message and hint, as Python exceptions."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class DvsError(Exception):
    """An error dvs reported: what failed (``message``), what to do next (``hint``).

    Attributes:
        message: what failed, as dvs words it (naming the path, object or revision).
        hint: the next step dvs suggests, or None.
        kind: dvs's error class (``unknownRevision``, ``corrupt``, ``badInput``, ``usage``,
            ``sampleNotFound``, ``snapshotRewritten``, ``protocolMismatch``, …), or None when it is not known.
        cause: the underlying cause (C function, errno text), or None.
        details: further lines (one per file, for example).
    """

    def __init__(
        self,
        message: str,
        hint: Optional[str] = None,
        kind: Optional[str] = None,
        cause: Optional[str] = None,
        details: Optional[List[str]] = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.kind = kind
        self.cause = cause
        self.details = list(details or [])
        super().__init__(message)

    def __str__(self) -> str:
        lines = [self.message]
        lines += ["  " + d for d in self.details[:50]]
        if self.cause:
            lines.append("caused by: " + self.cause)
        if self.hint:
            lines.append("hint: " + self.hint)
        return "\n".join(lines)


class RevisionNotFound(DvsError):
    """A revision (branch, tag, cohort, commit id, ``HEAD~2``) names no commit."""


class SampleNotFound(DvsError):
    """A snapshot has no audio sample at the path asked for."""


class SnapshotRewritten(DvsError):
    """A purge rewrote the snapshot after it was opened: its samples and their indices changed.
    Open the revision again (``repo.snapshot(rev)``)."""


class DataError(DvsError):
    """Stored data is damaged or a sample does not decode (``corrupt``, ``badInput``)."""


class UsageError(DvsError):
    """A request dvs refuses as given (a bad index, rate, option or SQL statement)."""


class NotARepository(DvsError):
    """The folder is not inside a dvs repository."""


class ProtocolError(DvsError):
    """The dvs binary and this package do not speak the same batch protocol, or the dvs
    process ended unexpectedly."""


class DvsNotFound(DvsError):
    """No dvs binary: neither ``DVS_BIN`` nor ``dvs`` on ``PATH``."""


_KINDS = {
    "unknownRevision": RevisionNotFound,
    "sampleNotFound": SampleNotFound,
    "snapshotRewritten": SnapshotRewritten,
    "corrupt": DataError,
    "badInput": DataError,
    "usage": UsageError,
    "notARepository": NotARepository,
    "protocol": ProtocolError,
    "protocolMismatch": ProtocolError,
}


def error_from(obj: Dict[str, Any]) -> DvsError:
    """The exception for a batch protocol error object (``{"kind", "message", "hint", …}``)."""
    kind = obj.get("kind")
    cls = _KINDS.get(kind or "", DvsError)
    return cls(
        obj.get("message") or "dvs failed",
        hint=obj.get("hint"),
        kind=kind,
        cause=obj.get("cause"),
        details=obj.get("details") or [],
    )


def error_from_stderr(text: str, exit_code: int) -> DvsError:
    """The exception for a failed one-shot dvs command, from its ``error:``/``hint:`` lines and
    the ``kind:`` line dvs adds under ``DVS_ERROR_KIND=1`` (without it: usage for exit status
    64, otherwise the base class)."""
    message, hint, cause, details, kind = None, None, None, [], None
    for line in text.splitlines():
        if line.startswith("kind: "):
            kind = line[len("kind: "):].strip()
        elif line.startswith("error: "):
            message = line[len("error: "):]
        elif line.startswith("hint: "):
            hint = line[len("hint: "):]
        elif line.startswith("caused by: "):
            cause = line[len("caused by: "):]
        elif line.startswith("  ") and message is not None:
            details.append(line.strip())
    if message is None:
        message = text.strip() or f"dvs exited with status {exit_code}"
    if kind is None:
        kind = "usage" if exit_code == 64 else None
        if message.startswith("not a dvs repository"):
            kind = "notARepository"
    cls = _KINDS.get(kind or "", DvsError)
    return cls(message, hint=hint, kind=kind, cause=cause, details=details)
