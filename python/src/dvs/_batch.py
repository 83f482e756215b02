"""The client side of ``dvs batch``: one long-lived dvs process per Python process.

Protocol (Documentation/PYTHON.md, "The batch protocol"): requests are JSON objects, one per line, on the process's
stdin; each answer is a JSON header line on its stdout, followed by ``payload`` bytes when the
header has that key (``"encoding": "json"`` or ``"float32le"``). The first request is
``{"op": "hello", "protocol": N}``; both sides refuse a version they do not speak.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import select
import shutil
import subprocess
import threading
import weakref
from typing import IO, Any, Dict, Iterator, List, Optional, Tuple, cast

from .errors import DvsError, DvsNotFound, ProtocolError, error_from, error_from_stderr

#: The batch protocol version this package speaks (``dvs batch`` must speak the same).
PROTOCOL = 1

#: Seconds the binary has to answer ``hello`` (dvs answers in milliseconds; a program that is
#: not dvs may never answer).
HELLO_TIMEOUT = 30.0


def dvs_binary(explicit: Optional[str] = None) -> str:
    """The dvs executable: ``explicit``, else ``$DVS_BIN``, else ``dvs`` on ``PATH``.

    Raises:
        DvsNotFound: when none is found.
    """
    candidate = explicit or os.environ.get("DVS_BIN")
    if candidate:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
        found = shutil.which(candidate)
        if found:
            return found
        raise DvsNotFound(
            f"the dvs binary '{candidate}' does not exist or is not executable",
            hint="set DVS_BIN to the dvs executable (for a source build: .build/release/dvs)",
        )
    found = shutil.which("dvs")
    if not found:
        raise DvsNotFound(
            "no dvs binary on PATH",
            hint="install dvs, or set DVS_BIN to its path (for a source build: .build/release/dvs)",
        )
    return found


class Answer:
    """One answer: its header (a dict) and its payload bytes (empty when none), writable."""

    __slots__ = ("header", "payload")

    def __init__(self, header: Dict[str, Any], payload: bytearray) -> None:
        self.header = header
        self.payload = payload

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload) if self.payload else None


# Every batch process this interpreter started and has not closed: ended cleanly at exit
# (stdin closed, the process waited for), so a script that never calls close() leaves no
# process behind and Python reports no "subprocess is still running" ResourceWarning.
_open: "weakref.WeakSet[BatchProcess]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    open_now: List["BatchProcess"] = []
    for _ in range(5):  # a thread still starting a process may change the set while it is copied
        try:
            open_now = list(_open)
            break
        except RuntimeError:
            continue
    for b in open_now:
        try:
            b.close()
        except Exception:
            pass


class BatchProcess:
    """A running ``dvs batch`` for one repository, owned by the process that started it.

    Thread-safe: one request and its answers at a time (a lock). Closed at interpreter exit
    when the caller did not close it.
    """

    def __init__(self, binary: str, root: str) -> None:
        self.binary = binary
        self.root = root
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._ticket = 0
        # Requests sent and not yet collected: [ticket, answers owed, answers read or None].
        self._pending: List[List[Any]] = []
        try:
            self._proc = subprocess.Popen(
                [binary, "batch", "-C", root],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
            )
        except OSError as e:
            raise DvsNotFound(f"cannot start '{binary}': {e}", hint="check DVS_BIN or PATH") from e
        self._stdin = cast(IO[bytes], self._proc.stdin)
        self._stdout = cast(IO[bytes], self._proc.stdout)
        self._in: io.BufferedReader = io.BufferedReader(io.FileIO(os.dup(self._stdout.fileno()), "rb"), buffer_size=1 << 20)
        self._greeting = True
        try:
            hello = self._hello()
        except BaseException:
            self._abandon()
            raise
        finally:
            self._greeting = False
        theirs = hello.header.get("protocol")
        if theirs != PROTOCOL:
            self.close()
            raise ProtocolError(
                f"'{binary}' speaks batch protocol {theirs}, this dvs package speaks {PROTOCOL}",
                hint="install the Python package and the dvs binary from the same dvs version",
                kind="protocolMismatch",
            )
        self.version: str = str(hello.header.get("dvs", ""))
        _open.add(self)

    def _abandon(self) -> None:
        """Kills a process that failed the greeting and closes its pipes."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for f in (self._stdin, self._in, self._stdout, self._proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass

    def _hello(self) -> Answer:
        """Sends ``hello`` and waits at most :data:`HELLO_TIMEOUT` seconds for its answer.

        Raises:
            ProtocolError: when the binary does not answer in time, answers with something that
                is not a dvs batch answer, or ends first (it is not dvs, or not this version).
        """
        self._send({"op": "hello", "protocol": PROTOCOL})
        ready, _, _ = select.select([self._in.fileno()], [], [], HELLO_TIMEOUT)
        if not ready:
            self._proc.kill()
            self._proc.wait()
            raise ProtocolError(
                f"'{self.binary}' did not answer within {HELLO_TIMEOUT:.0f} s: it does not speak dvs's batch protocol",
                hint="check that DVS_BIN (or dvs on PATH) is the dvs executable",
                kind="protocolMismatch",
            )
        answer = self._receive()
        if not answer.header.get("ok"):
            raise error_from(answer.header.get("error") or {})
        return answer

    # -- requests ---------------------------------------------------------------------------

    def request(self, req: Dict[str, Any]) -> Answer:
        """Sends one request and returns its single answer.

        Raises:
            DvsError: (a subclass) carrying dvs's message and hint when dvs answers with an error.
        """
        with self._lock:
            self._drain()
            self._send(req)
            answer = self._receive()
        if not answer.header.get("ok"):
            raise error_from(answer.header.get("error") or {})
        return answer

    def request_many(self, req: Dict[str, Any], count: int) -> List[Answer]:
        """Sends one request answered by ``count`` answers (``read_many``) and returns them all.

        Raises:
            DvsError: the first error answer (dvs stops answering that request after it).
        """
        return self.collect(self.submit_many(req, count))

    def submit_many(self, req: Dict[str, Any], count: int) -> int:
        """Sends a request answered by ``count`` answers without waiting for them, so dvs works
        on it while the caller does something else; :meth:`collect` takes them. Returns its ticket."""
        with self._lock:
            self._send(req)
            self._ticket += 1
            self._pending.append([self._ticket, count, None])
            return self._ticket

    def collect(self, ticket: int) -> List[Answer]:
        """The answers of a request :meth:`submit_many` sent (answers of earlier ones still unread
        are read and kept for their own ``collect``).

        Raises:
            DvsError: the request's error answer, when dvs gave one.
        """
        with self._lock:
            if not any(p[0] == ticket for p in self._pending):
                return []  # collected already
            while not any(p[0] == ticket and p[2] is not None for p in self._pending):
                self._read_next_pending()
            entry = next(p for p in self._pending if p[0] == ticket)
            self._pending.remove(entry)
        answers: List[Answer] = entry[2]
        if answers and not answers[-1].header.get("ok"):
            raise error_from(answers[-1].header.get("error") or {})
        return answers

    def discard(self, ticket: int) -> None:
        """Reads and drops the answers of a request nobody will :meth:`collect`."""
        try:
            self.collect(ticket)
        except DvsError:
            pass

    def _read_next_pending(self) -> None:
        """Reads all answers of the oldest request whose answers are unread (lock held)."""
        entry = next(p for p in self._pending if p[2] is None)
        got: List[Answer] = []
        for _ in range(entry[1]):
            a = self._receive()
            got.append(a)
            if not a.header.get("ok"):
                break  # dvs stops answering that request after an error
        entry[2] = got

    def _drain(self) -> None:
        """Reads the answers still owed to earlier requests (lock held), before a new request."""
        while any(p[2] is None for p in self._pending):
            self._read_next_pending()

    def _send(self, req: Dict[str, Any]) -> None:
        line = json.dumps(req, separators=(",", ":")).encode() + b"\n"
        try:
            self._stdin.write(line)
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _receive(self) -> Answer:
        line = self._in.readline()
        if not line:
            raise self._died()
        try:
            header = json.loads(line)
            if not isinstance(header, dict):
                raise ValueError("not an object")
        except ValueError:
            raise ProtocolError(
                f"'{self.binary}' answered with something that is not a dvs batch answer: {line[:80]!r}",
                hint="check that DVS_BIN (or dvs on PATH) is the dvs executable, from the same version as this package",
                kind="protocolMismatch",
            ) from None
        n = int(header.get("payload", 0))
        # A bytearray: NumPy and torch get writable arrays over it without a copy.
        payload = bytearray(n)
        view = memoryview(payload)
        got = 0
        while got < n:
            k = self._in.readinto(view[got:])
            if not k:
                raise self._died()
            got += k
        return Answer(header, payload)

    def _died(self) -> DvsError:
        """The error for a dvs process that stopped answering: its own error when it wrote one."""
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
        code = self._proc.returncode
        if "error:" in err:
            e = error_from_stderr(err, code)
            if code == 64 and "batch" in err and "unexpected argument" in err.lower():
                return ProtocolError(
                    f"'{self.binary}' has no batch command (dvs too old for this package)",
                    hint="install the dvs binary from the same version as the Python package",
                    kind="protocolMismatch",
                )
            return e
        if getattr(self, "_greeting", False):
            return ProtocolError(
                f"'{self.binary}' ended (exit status {code}) without answering hello: it is not dvs, or not a dvs with 'dvs batch'",
                hint=err.strip() or "check that DVS_BIN (or dvs on PATH) is the dvs executable",
                kind="protocolMismatch",
            )
        return ProtocolError(
            f"the dvs batch process ('{self.binary}') ended unexpectedly (exit status {code})",
            hint=err.strip()
            or "run the same request with the dvs command line to see its error; repo.close() and a new dvs.Repository start a new process",
        )

    def close(self) -> None:
        """Ends the process (closing its stdin ends it cleanly)."""
        if os.getpid() != self.pid:
            return  # a forked child never touches its parent's process
        _open.discard(self)
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for f in (self._in, self._stdout, self._proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass


def run_cli(binary: str, root: str, command: List[str], args: List[str], cwd: Optional[str] = None) -> str:
    """Runs one dvs command (``dvs COMMAND… -C root ARGS…``) and returns its stdout.

    Args:
        command: the subcommand words (``["model", "add"]``).
        args: its arguments.
        cwd: the working directory (the training code's git repository is read from there).

    Raises:
        DvsError: (a subclass) with dvs's message and hint when it exits non-zero.
    """
    # DVS_ERROR_KIND=1: a failing command ends its stderr with "kind: <code>", so the
    # exception is the matching subclass (RevisionNotFound, DataError, …), not the base class.
    p = subprocess.run(
        [binary] + command + ["-C", root] + args,
        cwd=cwd,
        env=dict(os.environ, DVS_ERROR_KIND="1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if p.returncode != 0:
        raise error_from_stderr(p.stderr.decode(errors="replace"), p.returncode)
    return p.stdout.decode()


def pcm_array(answer: Answer) -> Tuple[Any, int]:
    """The audio of a ``read`` answer: (NumPy float32 array, sample rate); shape ``(frames,)``
    for one channel, ``(frames, channels)`` for more (soundfile's convention)."""
    import numpy as np

    h = answer.header
    channels = int(h["channels"])
    if h.get("encoding") == "int16le":
        # 16-bit samples as stored; n / 32768 is libsndfile's float value, exactly.
        # One pass: the ufunc casts as it scales (astype then *= made two).
        a = np.multiply(np.frombuffer(answer.payload, dtype="<i2"), np.float32(1 / 32768), dtype=np.float32)
    else:
        a = np.frombuffer(answer.payload, dtype="<f4")
    if channels > 1:
        a = a.reshape(-1, channels)
    return a, int(h["sample_rate"])


def chunks(seq: List[int], size: int) -> Iterator[List[int]]:
    """``seq`` in consecutive lists of at most ``size``."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
