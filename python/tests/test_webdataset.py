"""`dvs stream` read by WebDataset through a PyTorch DataLoader with several workers, with the
recipe `dvs stream --help` gives (one pipe URL per shard): every sample exactly once, bytes as
committed. Skipped where torch or webdataset does not import."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

torch = pytest.importorskip("torch")
wds = pytest.importorskip("webdataset")
from torch.utils.data import DataLoader  # noqa: E402

from conftest import DVS  # noqa: E402
from conftest import dvs as run_dvs  # noqa: E402


def _help_recipe(repo_dir: str) -> str:
    """The URL template of the recipe in `dvs stream --help`, pointed at this repository."""
    text = run_dvs("stream", "--help", cwd=repo_dir).stdout
    m = re.search(r'f"pipe:dvs stream --rev cohort/es --shuffle 7 --shard \{i\}/8"', text)
    assert m, f"the recipe is not in dvs stream --help:\n{text}"
    return f"pipe:{DVS} -C {repo_dir} stream --rev HEAD --shuffle 7 --shard {{i}}/{{n}}"


@pytest.mark.parametrize("workers,shards", [(2, 8), (2, 3)])
def test_the_help_recipe_reads_each_sample_once_with_several_workers(repo_dir, workers, shards):
    template = _help_recipe(repo_dir)
    urls = [template.format(i=i, n=shards) for i in range(shards)]
    ds = wds.WebDataset(urls, shardshuffle=False)
    loader = DataLoader(ds, num_workers=workers, batch_size=None)
    seen = {}
    for s in loader:
        meta = json.loads(s["json"])
        audio = next(v for k, v in s.items() if k not in ("__key__", "__url__", "json", "__local_path__"))
        assert hashlib.sha256(audio).hexdigest() == meta["sha256"], meta["path"]
        assert meta["path"] not in seen, f"{meta['path']} read twice"
        seen[meta["path"]] = s["__url__"]
    listed = json.loads(run_dvs("ls", "--json", cwd=repo_dir).stdout)
    audio_paths = {e["path"] for e in listed if e.get("audio")}
    assert set(seen) == audio_paths
    assert len(set(seen.values())) == shards, "every shard contributed"


def test_one_url_with_two_workers_is_refused_by_webdataset(repo_dir):
    """Why the recipe has one URL per shard: a single pipe URL cannot be split between workers."""
    ds = wds.WebDataset(f"pipe:{DVS} -C {repo_dir} stream", shardshuffle=False)
    with pytest.raises(ValueError, match="fewer shards than workers"):
        list(DataLoader(ds, num_workers=2, batch_size=None))
