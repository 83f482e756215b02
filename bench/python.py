#!/usr/bin/env python3
"""bench/python.py -- the Python package against its peers on one corpus, in one run (issue 17).

Run by bench/python.sh, which makes the corpus, commits it and sets up a venv with the peers.

    python.py --repo DIR --corpus DIR [--reps 2] [--random 500] [--workers 2]

Times, page cache warm (each reader runs once untimed first):
  samples()         dvs.Repository(repo).snapshot().samples() of every row (median of 5)
  throughput        every sample decoded at its own rate through a torch DataLoader with
                    --workers workers, --reps passes each, interleaved:
                      dvs torch_iterable           (one dvs batch process per worker)
                      dvs stream | WebDataset      (one `dvs stream --shard I/N` per worker,
                                                    each WAV decoded with soundfile)
                      soundfile on the raw files   (a map-style dataset over the file list)
                      HF datasets audiofolder      (`Audio` feature, map-style, same WAVs)
                    samples/s and MB/s of WAV bytes (the files' sizes)
  one process       the same without a DataLoader (dvs iter_audio, soundfile, HF ds[i])
  random access     --random random indices, one process, no DataLoader: dvs torch_dataset
                    ds[i], soundfile.read(path), HF ds[i]; median and p99 latency
A benchmark, not a test: it prints figures and never fails on a miss.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import numpy as np


def median_p99(xs: List[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    return f"median {statistics.median(xs) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--random", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hf-cache", default=os.path.join(os.environ.get("DVS_BENCH_DIR", "/tmp/dvs-bench"), "hf-cache"))
    ap.add_argument("--skip-hf", action="store_true")
    args = ap.parse_args()

    import soundfile
    import torch
    from torch.utils.data import DataLoader, Dataset

    import dvs

    W = args.workers
    repo = dvs.Repository(args.repo)
    snap = repo.snapshot()
    n = len(snap)
    print(f"corpus: {n} samples, {snap.hours:.2f} h, dvs {repo.dvs_version}, torch {torch.__version__}")

    # -- samples() ----------------------------------------------------------------------------
    t0 = time.perf_counter()
    df = snap.samples()
    first = time.perf_counter() - t0
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        df = snap.samples()
        ts.append(time.perf_counter() - t0)
    print(f"samples(): {len(df)} rows x {len(df.columns)} columns: first {first:.3f} s, then median {statistics.median(ts):.3f} s (target < 0.5 s)")
    paths = snap.paths
    sizes = dict(zip(df["path"], df["bytes"]))
    wav_bytes = float(sum(sizes[p] for p in paths))
    files = [os.path.join(args.corpus, p) for p in paths]

    # -- readers --------------------------------------------------------------------------------
    class SoundfileFiles(Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> Dict[str, Any]:
            a, sr = soundfile.read(files[i], dtype="float32")
            return {"audio": torch.from_numpy(a), "sample_rate": sr}

    def loader_dvs() -> Any:
        return DataLoader(snap.torch_iterable(mono=False), batch_size=None, num_workers=W)

    def loader_stream() -> Any:
        import webdataset as wds

        dvs_bin = repo.binary
        urls = [f"pipe:{dvs_bin} stream -C {args.repo} --shard {i}/{W}" for i in range(W)]

        def decode(sample: Dict[str, Any]) -> Dict[str, Any]:
            a, sr = soundfile.read(io.BytesIO(sample["wav"]), dtype="float32")
            return {"audio": torch.from_numpy(a), "sample_rate": sr}

        ds = wds.WebDataset(urls, shardshuffle=False, workersplitter=wds.split_by_worker, nodesplitter=None).map(decode)
        return DataLoader(ds, batch_size=None, num_workers=W)

    def loader_soundfile() -> Any:
        return DataLoader(SoundfileFiles(), batch_size=None, num_workers=W)

    hf_ds = None
    if not args.skip_hf:
        import datasets

        datasets.disable_progress_bars()
        t0 = time.perf_counter()
        hf_ds = datasets.load_dataset("audiofolder", data_dir=args.corpus, split="train", cache_dir=args.hf_cache, drop_labels=True)
        print(f"HF datasets {datasets.__version__}: audiofolder of {len(hf_ds)} files prepared (or loaded from its cache) in {time.perf_counter() - t0:.1f} s")

    def loader_hf() -> Any:
        class HF(Dataset):  # type: ignore[type-arg]
            def __len__(self) -> int:
                return len(hf_ds)

            def __getitem__(self, i: int) -> Dict[str, Any]:
                a = hf_ds[i]["audio"]
                return {"audio": torch.from_numpy(np.asarray(a["array"], dtype=np.float32)), "sample_rate": a["sampling_rate"]}

        return DataLoader(HF(), batch_size=None, num_workers=W)

    readers: Dict[str, Callable[[], Any]] = {
        f"dvs torch_iterable ({W} workers)": loader_dvs,
        f"dvs stream | WebDataset + soundfile ({W} workers)": loader_stream,
        f"soundfile, raw files ({W} workers)": loader_soundfile,
    }
    if hf_ds is not None:
        readers[f"HF datasets audiofolder, Audio feature ({W} workers)"] = loader_hf

    def one_pass(make: Callable[[], Any]) -> tuple:
        t0 = time.perf_counter()
        count, frames = 0, 0
        for item in make():
            count += 1
            frames += int(item["audio"].shape[0])
        return time.perf_counter() - t0, count, frames

    for name, make in readers.items():  # warm-up: page cache, imports, HF cache files
        one_pass(make)
    times: Dict[str, List[float]] = {k: [] for k in readers}
    counts: Dict[str, tuple] = {}
    for _ in range(args.reps):
        for name, make in readers.items():
            dt, count, frames = one_pass(make)
            times[name].append(dt)
            counts[name] = (count, frames)
    print(f"\nthroughput, whole snapshot, page cache warm, {args.reps} passes (median wall; samples/s; MB/s of WAV bytes):")
    rates = {}
    for name in readers:
        t = statistics.median(times[name])
        count, frames = counts[name]
        rates[name] = count / t
        print(f"  {name:58s} {t:7.2f} s  {count / t:8.0f} samples/s  {wav_bytes / t / 1e6:7.1f} MB/s  ({count} samples, {frames} frames)")
    dvs_rate = rates[f"dvs torch_iterable ({W} workers)"]
    for name in readers:
        if not name.startswith("dvs torch_iterable"):
            print(f"  dvs torch_iterable / {name.split(' (')[0]}: {dvs_rate / rates[name]:.2f}x")

    # -- one process, no DataLoader: the readers' own cost, without the workers' tensor transfer --
    def direct_dvs() -> int:
        return sum(1 for _ in snap.iter_audio())

    def direct_soundfile() -> int:
        return sum(1 for f in files if soundfile.read(f, dtype="float32") is not None)

    def direct_hf() -> int:
        return sum(1 for i in range(len(hf_ds)) if hf_ds[i]["audio"] is not None)

    direct: Dict[str, Callable[[], int]] = {"dvs snap.iter_audio()": direct_dvs, "soundfile.read(path)": direct_soundfile}
    if hf_ds is not None:
        direct["HF datasets ds[i]['audio']"] = direct_hf
    dtimes: Dict[str, List[float]] = {k: [] for k in direct}
    for _ in range(args.reps):
        for name, f in direct.items():
            t0 = time.perf_counter()
            f()
            dtimes[name].append(time.perf_counter() - t0)
    print("\nthroughput, one process, no DataLoader (median wall; samples/s; MB/s of WAV bytes):")
    for name in direct:
        t = statistics.median(dtimes[name])
        print(f"  {name:58s} {t:7.2f} s  {n / t:8.0f} samples/s  {wav_bytes / t / 1e6:7.1f} MB/s")

    # -- random access --------------------------------------------------------------------------
    rng = random.Random(1)
    idx = [rng.randrange(n) for _ in range(args.random)]
    ds = snap.torch_dataset(mono=False)

    def lat(f: Callable[[int], Any]) -> List[float]:
        for i in idx[:20]:
            f(i)
        out = []
        for i in idx:
            t0 = time.perf_counter()
            f(i)
            out.append(time.perf_counter() - t0)
        return out

    print(f"\nrandom access, {args.random} random indices, one process:")
    print(f"  dvs torch_dataset ds[i]:       {median_p99(lat(lambda i: ds[i]))}")
    print(f"  soundfile.read(path):          {median_p99(lat(lambda i: soundfile.read(files[i], dtype='float32')))}")
    if hf_ds is not None:
        print(f"  HF datasets ds[i]['audio']:    {median_p99(lat(lambda i: hf_ds[i]['audio']))}")
    repo.close()


if __name__ == "__main__":
    sys.exit(main())
