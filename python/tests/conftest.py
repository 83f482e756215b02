"""Fixtures: a real dvs repository made with the built dvs binary from recorded voices Debian
ships (alsa-utils, klettres-data), speech spoken by espeak-ng and converted by sox, labels and
a Deepgram transcript sidecar.

The binary: ``$DVS_BIN``, else ``dvs`` on PATH, else the worktree's ``.build/debug/dvs`` or
``.build/release/dvs``."""

from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _find_dvs() -> str:
    env = os.environ.get("DVS_BIN")
    if env:
        return os.path.abspath(env)
    for p in (ROOT / ".build/debug/dvs", ROOT / ".build/release/dvs"):
        if p.exists():
            return str(p)
    found = shutil.which("dvs")
    if found:
        return found
    pytest.exit("no dvs binary: set DVS_BIN (e.g. .build/debug/dvs)", returncode=2)
    raise AssertionError


DVS = _find_dvs()
os.environ["DVS_BIN"] = DVS


def dvs(*args: str, cwd: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the dvs binary; returns the completed process (text)."""
    p = subprocess.run([DVS, *args], cwd=cwd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"dvs {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _deepgram(words: List[str]) -> Dict:
    ws = [
        {"word": w, "punctuated_word": w, "start": 0.3 * i, "end": 0.3 * i + 0.25, "confidence": 0.9 - 0.1 * i}
        for i, w in enumerate(words)
    ]
    return {
        "metadata": {"request_id": "r1", "channels": 1},
        "results": {
            "channels": [
                {"alternatives": [{"transcript": " ".join(words), "confidence": 0.8, "words": ws}]}
            ]
        },
    }


@pytest.fixture(scope="session")
def repo_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A committed repository: 48 kHz recorded speech (alsa), Ogg Vorbis letters (klettres),
    espeak-ng speech as 8 kHz mu-law stereo and 22.05 kHz 16-bit WAV; labels lang/intent; one
    Deepgram sidecar. Two commits: the second relabels one sample and adds one file."""
    d = tmp_path_factory.mktemp("voice")
    (d / "calls/en").mkdir(parents=True)
    (d / "calls/es").mkdir(parents=True)
    (d / "words/fr").mkdir(parents=True)
    alsa = sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))[:4]
    assert alsa, "alsa-utils' recorded voices are missing (scripts/install-deps.sh installs them)"
    for f in alsa:
        shutil.copy(f, d / "calls/en" / os.path.basename(f))
    kt = sorted(glob.glob("/usr/share/klettres/fr/alpha/*.ogg"))[:3]
    for f in kt:
        shutil.copy(f, d / "words/fr" / os.path.basename(f))
    texts = ["hola buenos dias", "quiero cancelar mi cuenta", "gracias adios"]
    for i, t in enumerate(texts):
        tmp = str(d / f"tmp{i}.wav")
        _sh("espeak-ng", "-v", "es", "-w", tmp, t)
        if i == 0:  # telephony: 8 kHz mu-law, two channels
            _sh("sox", "-R", tmp, "-r", "8000", "-c", "2", "-e", "mu-law", "-b", "8", str(d / f"calls/es/{i:04d}.wav"))
        else:
            _sh("sox", "-R", tmp, "-r", "22050", "-c", "1", "-e", "signed-integer", "-b", "16", str(d / f"calls/es/{i:04d}.wav"))
        os.remove(tmp)
    (d / "calls/es/0001.json").write_text(json.dumps(_deepgram(["quiero", "cancelar", "mi", "cuenta"])))
    rows = []
    for p in sorted(d.rglob("*")):
        if p.suffix in (".wav", ".ogg"):
            rel = p.relative_to(d).as_posix()
            lang = rel.split("/")[1]
            intent = "cancel" if "0001" in rel else ("greet" if lang != "fr" else "word")
            rows.append({"path": rel, "lang": lang, "intent": intent})
    with open(d / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "lang", "intent"])
        w.writeheader()
        w.writerows(rows)
    dvs("init", cwd=str(d))
    dvs("commit", "-m", "first calls", cwd=str(d))
    # second commit: relabel one, add one
    rows[0]["intent"] = "other"
    _sh("espeak-ng", "-v", "en", "-w", str(d / "calls/en/extra.wav"), "one more call")
    rows.append({"path": "calls/en/extra.wav", "lang": "en", "intent": "greet"})
    with open(d / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "lang", "intent"])
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: r["path"]))
    dvs("commit", "-m", "relabel, one more", cwd=str(d))
    return str(d)


@pytest.fixture(scope="session")
def repo(repo_dir: str):
    import dvs as dvs_pkg

    r = dvs_pkg.Repository(repo_dir)
    yield r
    r.close()
