"""PyTorch datasets over a snapshot, with DataLoader workers, and a training loop whose model
dvs records with its code commit, parameters and metrics. Skipped where torch does not import
(the package imports it only when a dataset is asked for)."""

from __future__ import annotations

import collections
import json
import os
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import dvs  # noqa: E402
from conftest import dvs as run_dvs  # noqa: E402


def _collate(items):
    return items


def test_map_dataset_yields_every_sample_once_with_two_workers(repo):
    snap = repo.snapshot()
    ds = snap.torch_dataset(label="intent", sample_rate=16000)
    assert len(ds) == len(snap) == 11
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=_collate, shuffle=True)
    seen = collections.Counter()
    for batch in loader:
        for item in batch:
            seen[item["path"]] += 1
            assert item["sample_rate"] == 16000 and item["audio"].dtype == torch.float32 and item["audio"].ndim == 1
            assert item["label"] == snap.labels("intent")[item["index"]]
    assert seen == collections.Counter(snap.paths)


def test_map_dataset_item_is_read(repo):
    snap = repo.snapshot()
    ds = snap.torch_dataset(sample_rate=16000)
    i = snap.paths.index("calls/es/0001.wav")
    audio, sr = snap.read(i, sample_rate=16000, mono=True)
    assert np.array_equal(ds[i]["audio"].numpy(), audio) and ds[-1]["path"] == snap.paths[-1]


@pytest.mark.parametrize("shuffle", [None, 7])
def test_iterable_yields_every_sample_once_with_two_workers(repo, shuffle):
    snap = repo.snapshot()
    it = snap.torch_iterable(shuffle=shuffle, label="lang", chunk=2)
    loader = DataLoader(it, batch_size=None, num_workers=2)
    items = list(loader)
    assert sorted(x["path"] for x in items) == sorted(snap.paths)
    assert all(x["label"] == x["path"].split("/")[1] for x in items)
    if shuffle is not None:
        order = [x["index"] for x in items]
        assert order != sorted(order)


def test_iterable_shards_across_ranks(repo, monkeypatch):
    snap = repo.snapshot()
    parts = []
    for rank in range(3):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "3")
        parts.append([x["index"] for x in DataLoader(snap.torch_iterable(shuffle=1), batch_size=None, num_workers=2)])
    flat = [i for p in parts for i in p]
    assert sorted(flat) == list(range(len(snap))) and all(parts)


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_training_loop_registers_model_with_code_params_metrics(repo, repo_dir, tmp_path, monkeypatch):
    code = tmp_path / "trainer"
    code.mkdir()
    (code / "train.py").write_text("# the training code\n")
    _git("init", "-q", cwd=code)
    _git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "trainer", "--allow-empty", cwd=code)
    _git("add", "train.py", cwd=code)
    _git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "train.py", cwd=code)
    git_head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=code, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(code)

    torch.manual_seed(0)
    snap = repo.snapshot("HEAD")
    classes = sorted(set(snap.labels("lang")))
    model = torch.nn.Linear(2, len(classes))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ds = snap.torch_dataset(label="lang", sample_rate=8000)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=_collate)

    def features(item):
        a = item["audio"]
        return torch.stack([a.abs().mean(), a.pow(2).mean().sqrt()])

    with repo.run(rev="HEAD", name="lang-tiny", params={"lr": 0.1, "epochs": 2}, label="lang", task="classify") as run:
        for _ in range(2):
            for batch in loader:
                x = torch.stack([features(i) for i in batch])
                y = torch.tensor([classes.index(i["label"]) for i in batch])
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = [classes[int(model(features(ds[i])).argmax())] for i in range(len(ds))]
        truth = snap.labels("lang")
        acc = float(np.mean([p == t for p, t in zip(pred, truth)]))
        run.log_metrics({"accuracy": acc}, samples=len(ds))
        for lang in classes:
            idx = [i for i, t in enumerate(truth) if t == lang]
            run.log_metrics({"accuracy": float(np.mean([pred[i] == lang for i in idx]))}, slice=f"lang={lang}", samples=len(idx))
        torch.save(model.state_dict(), "model.pt")
        run.log_artifact("model.pt", parameter_count=sum(p.numel() for p in model.parameters()))

    assert len(run.records) == 1
    audit = repo.audit(str(code / "model.pt"))
    text = json.dumps(audit)
    assert snap.commit in text
    assert git_head in text
    assert '"lr"' in text and "0.1" in text and '"epochs"' in text
    assert "accuracy" in text and "lang=es" in text
    models = repo.models()
    assert "lang-tiny" in set(models["name"])
    # The CLI shows the same model beside its metrics.
    out = run_dvs("models", "--compare", "--rev", "HEAD", cwd=repo_dir).stdout
    assert "lang-tiny" in out


def test_failed_run_registers_nothing(repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = len(repo.models())
    (tmp_path / "m.pt").write_bytes(b"weights")
    with pytest.raises(RuntimeError):
        with repo.run(rev="HEAD", name="broken") as run:
            run.log_artifact("m.pt")
            raise RuntimeError("training diverged")
    assert len(repo.models()) == before
    with pytest.raises(dvs.UsageError):
        repo.run(rev="HEAD").log_metrics({"accuracy": 1.0}, slice="lang")


def test_diff_between_snapshots(repo):
    d = repo.diff("HEAD~1", "HEAD")
    assert d["summary"]["added"] == 1 and d["summary"]["relabeled"] == 1
    with pytest.raises(dvs.RevisionNotFound):
        repo.diff("HEAD~1", "nope")


def test_run_checks_metrics_when_logged_and_keeps_the_branch_name(repo, repo_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.pt").write_bytes(b"weights-named-run")
    branch = run_dvs("branch", cwd=repo_dir).stdout.split("*")[1].split()[0]
    with repo.run(rev=branch, name="named") as run:
        run.log_metrics({"accuracy": torch.tensor(0.75), "loss": np.float32(0.5)})
        with pytest.raises(dvs.UsageError) as nan:
            run.log_metrics({"accuracy": float("nan")})
        assert "'accuracy'" in nan.value.message and "finite" in nan.value.message
        with pytest.raises(dvs.UsageError) as text:
            run.log_metrics({"accuracy": "high"})
        assert "not a number" in text.value.message
        run.log_artifact("m.pt")
    record = run.records[0]
    assert record["revision"] == branch, record
    with pytest.warns(UserWarning, match="no artifact"):
        with repo.run(rev=branch) as r2:
            r2.log_metrics({"accuracy": 0.5})
    assert r2.records == []
