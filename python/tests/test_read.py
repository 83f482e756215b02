"""Snapshots, tables and audio read through `dvs batch`, against dvs's own command line and
libsndfile's decode of the checked-out files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import dvs
from conftest import DVS, dvs as run_dvs


def test_samples_equal_dvs_query_json(repo, repo_dir):
    snap = repo.snapshot("HEAD")
    df = snap.samples()
    expected = pd.DataFrame(json.loads(run_dvs("query", "--json", "SELECT * FROM sample", cwd=repo_dir).stdout))
    assert len(df) == len(snap) == len(expected) == 11
    pd.testing.assert_frame_equal(
        df.sort_values("path").reset_index(drop=True),
        expected[list(df.columns)].sort_values("path").reset_index(drop=True),
    )
    assert {"lang", "intent", "sample_rate", "duration_s", "transcript"} <= set(df.columns)


def test_query_keeps_columns_and_types(repo):
    df = repo.query("SELECT lang, count(*) AS n, sum(duration_s) AS s FROM sample GROUP BY lang ORDER BY lang")
    assert list(df.columns) == ["lang", "n", "s"]
    assert list(df["lang"]) == ["en", "es", "fr"]
    assert list(df["n"]) == [5, 3, 3]
    assert (df["s"] > 0).all()


def test_snapshot_is_immutable_and_resolves_revisions(repo, repo_dir):
    head = repo.snapshot("HEAD")
    prev = repo.snapshot("HEAD~1")
    assert head.commit != prev.commit and len(head) == len(prev) + 1
    log = run_dvs("log", "--json", cwd=repo_dir).stdout
    assert head.commit in log and prev.commit in log
    assert repo.snapshot(head.commit[:12]).commit == head.commit
    # The relabel is visible in one and not the other.
    a = prev.query("SELECT intent FROM sample WHERE path = 'calls/en/Front_Center.wav'")["intent"][0]
    b = head.query("SELECT intent FROM sample WHERE path = 'calls/en/Front_Center.wav'")["intent"][0]
    assert (a, b) == ("greet", "other")


def _sndfile_decode(path: str):
    """libsndfile's decode of a file (through sox, which uses libsndfile/its own readers, would
    differ in dither): read with the soundfile package when present, else with sox to float."""
    try:
        import soundfile

        data, sr = soundfile.read(path, dtype="float32", always_2d=False)
        return data, sr
    except ImportError:
        out = subprocess.run(
            ["sox", path, "-t", "f32", "-e", "floating-point", "-"], check=True, capture_output=True
        ).stdout
        info = subprocess.run(["soxi", path], check=True, capture_output=True, text=True).stdout
        ch = int([l for l in info.splitlines() if l.startswith("Channels")][0].split(":")[1])
        sr = int([l for l in info.splitlines() if l.startswith("Sample Rate")][0].split(":")[1])
        a = np.frombuffer(out, dtype="<f4")
        return (a.reshape(-1, ch) if ch > 1 else a), sr


@pytest.mark.parametrize("path", ["calls/en/Front_Center.wav", "calls/es/0001.wav", "calls/es/0000.wav"])
def test_read_equals_decode_of_checked_out_file(repo, repo_dir, path):
    audio, sr = repo.snapshot("HEAD").read(path)
    expected, esr = _sndfile_decode(os.path.join(repo_dir, path))
    assert sr == esr
    assert audio.dtype == np.float32
    assert audio.shape == expected.shape
    np.testing.assert_allclose(audio, expected, atol=1e-4)


def test_16_bit_samples_cross_the_pipe_as_int16_with_the_same_values(repo):
    """A 16-bit PCM sample read as stored comes as int16 (half the bytes) and decodes to exactly
    the float32 dvs sends otherwise; μ-law, resampled or mixed-down audio stays float32."""
    from dvs._batch import pcm_array

    snap = repo.snapshot()
    client = repo._client()
    seen = set()
    for path in ["calls/es/0001.wav", "calls/en/Front_Center.wav", "calls/es/0000.wav"]:
        for rate, mono in [(None, False), (16000, False), (None, True)]:
            plain = client.request(snap._req("read", path=path, sample_rate=rate, mono=mono))
            packed = client.request(snap._req("read", path=path, sample_rate=rate, mono=mono, pcm="int16"))
            assert plain.header["encoding"] == "float32le"
            a, ra = pcm_array(plain)
            b, rb = pcm_array(packed)
            assert ra == rb and a.dtype == b.dtype == np.float32 and np.array_equal(a, b), (path, rate, mono)
            seen.add((path, rate, mono, packed.header["encoding"]))
    assert ("calls/es/0001.wav", None, False, "int16le") in seen  # 22.05 kHz 16-bit mono
    assert ("calls/es/0001.wav", None, True, "int16le") in seen  # mono of mono: as stored
    assert ("calls/es/0001.wav", 16000, False, "float32le") in seen  # resampled
    assert ("calls/es/0000.wav", None, False, "float32le") in seen  # mu-law


def test_negative_indices_count_from_the_end(repo):
    snap = repo.snapshot()
    last = snap.read(len(snap) - 1)[0]
    assert np.array_equal(snap.read(-1)[0], last)
    with pytest.raises(dvs.UsageError):
        snap.read(-len(snap) - 1)


def test_read_ogg_by_index_and_path_agree(repo):
    snap = repo.snapshot()
    i = snap.paths.index(next(p for p in snap.paths if p.endswith(".ogg")))
    a, sr = snap.read(i)
    b, sr2 = snap.read(snap.paths[i])
    assert sr == sr2 and np.array_equal(a, b) and a.size > 1000


def test_read_mono_and_resample(repo):
    snap = repo.snapshot()
    stereo, sr = snap.read("calls/es/0000.wav")
    assert sr == 8000 and stereo.ndim == 2 and stereo.shape[1] == 2
    mono, _ = snap.read("calls/es/0000.wav", mono=True)
    np.testing.assert_allclose(mono, stereo.mean(axis=1), atol=1e-6)
    up, sr16 = snap.read("calls/es/0000.wav", sample_rate=16000, mono=True, dtype="float64")
    assert sr16 == 16000 and up.dtype == np.float64
    assert abs(len(up) - 2 * len(mono)) <= 2
    # Resampling keeps the signal's level (libsamplerate, not zero stuffing).
    assert abs(np.sqrt(np.mean(up**2)) - np.sqrt(np.mean(mono**2))) < 0.02


def test_iter_audio_reads_all_in_order(repo):
    snap = repo.snapshot()
    got = [(i, p) for i, p, _, _ in snap.iter_audio(chunk=4)]
    assert got == list(enumerate(snap.paths))
    rev = [i for i, _, _, _ in snap.iter_audio([3, 1, 2], chunk=2)]
    assert rev == [3, 1, 2]


def test_words_of_deepgram_sidecar(repo):
    snap = repo.snapshot()
    w = snap.words("calls/es/0001.wav")
    assert list(w.columns) == ["start", "end", "word", "confidence", "speaker", "channel"]
    assert list(w["word"]) == ["quiero", "cancelar", "mi", "cuenta"]
    assert w["start"].is_monotonic_increasing
    assert snap.words("calls/es/0002.wav").empty


def test_errors_carry_message_and_hint(repo, tmp_path):
    with pytest.raises(dvs.RevisionNotFound) as e:
        repo.snapshot("no-such-branch")
    assert "no-such-branch" in e.value.message and e.value.hint
    snap = repo.snapshot()
    with pytest.raises(dvs.SampleNotFound) as e2:
        snap.read("calls/xx/missing.wav")
    assert "calls/xx/missing.wav" in str(e2.value) and e2.value.hint
    with pytest.raises(dvs.UsageError) as e3:
        snap.read(999)
    assert "999" in e3.value.message and "hint" in str(e3.value)
    with pytest.raises(dvs.DataError) as e4:
        snap.query("DELETE FROM sample")
    assert e4.value.message
    with pytest.raises(dvs.NotARepository) as e5:
        dvs.Repository(str(tmp_path))
    assert str(tmp_path) in e5.value.message and e5.value.hint
    assert isinstance(e5.value, dvs.DvsError)
    with pytest.raises(dvs.NotARepository) as e6:
        dvs.Repository(str(tmp_path / "no" / "such"))
    assert "no folder" in e6.value.message and "dvs init" not in str(e6.value)
    with pytest.raises(dvs.UsageError) as e7:
        snap.torch_dataset(label="intnet")[0]
    assert "intnet" in e7.value.message and "intent" in (e7.value.hint or "")
    with pytest.raises(dvs.DataError) as e8:
        snap.query("DROP TABLE sample")
    assert "writes" in e8.value.message and "DROP VIEW" not in str(e8.value)
    # The batch process is still usable after errors.
    assert len(repo.snapshot().samples()) == 11


def test_protocol_mismatch_is_a_clear_error(repo_dir):
    p = subprocess.run(
        [DVS, "batch", "-C", repo_dir], input=b'{"op":"hello","protocol":999}\n', capture_output=True
    )
    header = json.loads(p.stdout.splitlines()[0])
    assert header["ok"] is False and header["error"]["kind"] == "protocolMismatch"
    assert "999" in header["error"]["message"] and header["error"]["hint"]
    assert p.returncode == 1


def test_requests_before_hello_are_refused(repo_dir):
    p = subprocess.run([DVS, "batch", "-C", repo_dir], input=b'{"op":"open","rev":"HEAD"}\n', capture_output=True)
    header = json.loads(p.stdout.splitlines()[0])
    assert header["ok"] is False and "hello" in header["error"]["message"]


def test_missing_binary(monkeypatch, repo_dir):
    monkeypatch.setenv("DVS_BIN", "/nonexistent/dvs")
    with pytest.raises(dvs.DvsNotFound) as e:
        dvs.Repository(repo_dir)
    assert "DVS_BIN" in (e.value.hint or "")


def test_one_process_per_pid(repo):
    snap = repo.snapshot()
    first = repo._client()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its own dvs process, the parent's untouched
        try:
            ok = repo._client() is not first and len(snap.samples()) == 11
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(r, 1) == b"1"
    assert repo._client() is first and len(snap.paths) == 11


def test_iter_audio_interleaved_with_reads_and_stopped_early(repo):
    snap = repo.snapshot()
    seen = []
    for i, path, audio, _ in snap.iter_audio(chunk=2):
        # A read in the middle of the iteration (the next chunk's answers are still owed).
        again, _ = snap.read(path)
        assert np.array_equal(again, audio)
        seen.append(i)
        if len(seen) == 5:
            break  # the chunk asked for ahead is read and dropped
    assert seen == [0, 1, 2, 3, 4]
    assert len(snap.samples()) == 11 and snap.read(0)[0].size > 0
    with pytest.raises(dvs.UsageError):
        list(snap.iter_audio([0, 1, 2, 50, 3], chunk=2))
    assert [i for i, _, _, _ in snap.iter_audio([4, 3], chunk=1)] == [4, 3]


def test_a_snapshot_rewritten_by_purge_is_refused_not_misread(repo_dir, tmp_path):
    """After a purge in another process, indices of a snapshot opened before it would name other
    samples: the read is refused with SnapshotRewritten, and the revision opened again reads."""
    d = tmp_path / "copy"
    shutil.copytree(repo_dir, d, symlinks=True)
    r = dvs.Repository(str(d))
    try:
        before = r.snapshot("HEAD")
        n = len(before)
        assert before.read(0)[0].size > 0
        run_dvs("purge", "calls/en/extra.wav", "--yes", cwd=str(d))
        with pytest.raises(dvs.SnapshotRewritten) as e:
            before.read(0)
        assert "rewritten by a purge" in e.value.message and e.value.hint
        after = r.snapshot("HEAD")
        assert after.commit != before.commit and len(after) == n - 1
        assert "calls/en/extra.wav" not in list(after.samples()["path"])
        assert after.read(0)[0].size > 0
    finally:
        r.close()


def test_reads_go_on_after_gc_rewrites_a_pack_in_another_process(tmp_path):
    """A session keeps blob locations; `dvs gc` elsewhere rewrites the pack holding a sample the
    session has not read yet. The read finds the blob in its new pack instead of failing."""
    d = tmp_path / "gc"
    d.mkdir()
    _sh = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
    _sh("espeak-ng", "-v", "en", "-w", str(d / "x.wav"), "first sample")
    run_dvs("init", cwd=str(d))
    run_dvs("commit", "-m", "x", cwd=str(d))
    run_dvs("branch", "junk", cwd=str(d))
    run_dvs("checkout", "junk", cwd=str(d))
    _sh("espeak-ng", "-v", "en", "-w", str(d / "y.wav"), "second sample")
    for i in range(3):  # incompressible noise: most of the pack that also holds y.wav
        _sh("sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(d / f"junk{i}.wav"), "synth", "3", "whitenoise")
    run_dvs("commit", "-m", "y and junk", cwd=str(d))
    y = (d / "y.wav").read_bytes()
    run_dvs("checkout", "main", cwd=str(d))
    (d / "y.wav").write_bytes(y)
    run_dvs("commit", "-m", "y", cwd=str(d))  # y's blob is already stored, in junk's pack
    run_dvs("branch", "other", "HEAD~1", cwd=str(d))
    run_dvs("checkout", "other", cwd=str(d))  # main is read from the store, not the tree
    r = dvs.Repository(str(d))
    try:
        snap = r.snapshot("main")
        assert snap.read("x.wav")[0].size > 0  # the session now holds the blob locations
        run_dvs("branch", "-D", "junk", cwd=str(d))
        gc = json.loads(run_dvs("gc", "--prune=now", "--json", cwd=str(d)).stdout)
        assert gc["packs_rewritten"] >= 1, gc
        audio, sr = snap.read("y.wav")
        fresh = dvs.Repository(str(d))
        try:
            want, want_sr = fresh.snapshot("main").read("y.wav")
        finally:
            fresh.close()
        assert sr == want_sr and np.array_equal(audio, want) and audio.size > 0
    finally:
        r.close()


def test_a_binary_that_is_not_dvs_is_a_clear_error(monkeypatch, repo_dir, tmp_path):
    """A DVS_BIN that never answers, answers garbage or just exits: a ProtocolError naming
    DVS_BIN, never a hang or a bare JSON error."""
    import dvs._batch as batch

    monkeypatch.setattr(batch, "HELLO_TIMEOUT", 1.0)
    cases = {
        "silent": ("#!/bin/sh\nexec sleep 1000\n", "did not answer within 1 s"),
        "garbage": ("#!/bin/sh\necho garbage\nexec sleep 1000\n", "not a dvs batch answer"),
        "exits": ("#!/bin/sh\nexit 0\n", "without answering hello"),
    }
    for name, (script, words) in cases.items():
        path = tmp_path / name
        path.write_text(script)
        path.chmod(0o755)
        monkeypatch.setenv("DVS_BIN", str(path))
        with pytest.raises(dvs.ProtocolError) as e:
            dvs.Repository(repo_dir).snapshot("HEAD")
        assert words in e.value.message, (name, e.value.message)
        assert "DVS_BIN" in (e.value.hint or ""), (name, e.value.hint)


def test_a_failing_one_shot_command_raises_its_kind(repo, tmp_path):
    """Lineage calls run one-shot dvs commands: their errors carry dvs's error kind (the
    ``kind:`` line under DVS_ERROR_KIND=1), not only the base DvsError."""
    with pytest.raises(dvs.RevisionNotFound) as e:
        repo._cli_json(["diff"], ["no-such-rev", "HEAD"])
    assert e.value.kind == "unknownRevision" and "no-such-rev" in e.value.message
    assert "kind:" not in str(e.value), "the kind line is parsed, not shown"
    stray = tmp_path / "not-a-model.bin"
    stray.write_bytes(b"weights")
    with pytest.raises(dvs.DvsError) as e2:
        repo.audit(str(stray))
    assert e2.value.kind is not None and type(e2.value) is not dvs.DvsError, (type(e2.value), e2.value.kind)
    # Without the line (an older dvs): the base class, as before.
    old = dvs.errors.error_from_stderr("error: something failed\nhint: try again\n", 1)
    assert type(old) is dvs.DvsError and old.hint == "try again" and old.kind is None


def test_a_script_that_never_closes_leaves_no_process(repo_dir, tmp_path):
    """The batch process ends with the interpreter even without close(): no process left,
    no ResourceWarning about a subprocess still running."""
    script = tmp_path / "reader.py"
    # The check is registered before dvs is imported, so it runs after dvs's own exit hook
    # (atexit runs last-registered first): by then the process must have been waited for.
    script.write_text(
        "import atexit\n"
        "atexit.register(lambda: print('returncode', repo._batch._proc.returncode, flush=True))\n"
        "import dvs, sys\n"
        f"repo = dvs.Repository({repo_dir!r})\n"
        "snap = repo.snapshot()\n"
        "a, rate = snap.read(0)\n"
        "print(repo._batch._proc.pid, rate, flush=True)\n"
    )
    p = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", str(script)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "ResourceWarning" not in p.stderr, p.stderr
    assert p.stdout.splitlines()[-1] == "returncode 0", p.stdout
    # Closed and waited for by the script: gone, not even a zombie left for init to reap.
    pid = int(p.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the dvs batch process outlived the script"
