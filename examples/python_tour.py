#!/usr/bin/env python3
"""A notebook-style tour of `import dvs` (run it as a script, or cell by cell: `# %%` marks cells).

    pip install ./python                      # from the dvs checkout; torch optional
    DVS_BIN=.build/release/dvs python3 examples/python_tour.py [REPO]

Without REPO it makes a small repository first, from recordings Debian ships (alsa-utils,
klettres-data) and speech spoken by espeak-ng, as the quickstart does, with a label table.
"""

# %% A repository to look at
import csv
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import dvs

dvs_bin = os.environ.get("DVS_BIN") or shutil.which("dvs") or "dvs"
if len(sys.argv) > 1:
    root = sys.argv[1]
else:
    root = tempfile.mkdtemp(prefix="dvs-python-tour-")
    rows = []
    for f in sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))[:4]:
        os.makedirs(f"{root}/calls/en", exist_ok=True)
        shutil.copy(f, f"{root}/calls/en/")
        rows.append((f"calls/en/{os.path.basename(f)}", "en", "greet"))
    for i, text in enumerate(["hola buenos días", "quiero cancelar mi cuenta", "gracias, adiós"]):
        os.makedirs(f"{root}/calls/es", exist_ok=True)
        subprocess.run(["espeak-ng", "-v", "es", "-w", f"{root}/calls/es/{i:04d}.wav", text], check=True)
        rows.append((f"calls/es/{i:04d}.wav", "es", "cancel" if i == 1 else "greet"))
    for f in sorted(glob.glob("/usr/share/klettres/fr/alpha/*.ogg"))[:3]:
        os.makedirs(f"{root}/letters/fr", exist_ok=True)
        shutil.copy(f, f"{root}/letters/fr/")
        rows.append((f"letters/fr/{os.path.basename(f)}", "fr", "letter"))
    with open(f"{root}/labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "lang", "intent"), *rows])
    env = dict(os.environ, DVS_AUTHOR_NAME="tour", DVS_AUTHOR_EMAIL="tour@example.com")
    subprocess.run([dvs_bin, "init"], cwd=root, check=True, capture_output=True, env=env)
    subprocess.run([dvs_bin, "commit", "-m", "calls and letters"], cwd=root, check=True, capture_output=True, env=env)

repo = dvs.Repository(root)
snap = repo.snapshot("HEAD")
print(snap, f"{snap.hours * 3600:.1f} s of audio")

# %% The samples as a DataFrame: audio facts, labels, transcript summary
df = snap.samples()
print(df[["path", "sample_rate", "channels", "duration_s", "lang", "intent"]].to_string(index=False))

# %% SQL over the snapshot
print(snap.query("SELECT lang, count(*) AS n, round(sum(duration_s), 2) AS seconds FROM sample GROUP BY lang"))

# %% Audio as NumPy: decoded, mixed down and resampled by dvs
audio, sr = snap.read("calls/es/0001.wav", sample_rate=16000, mono=True)
print(f"{audio.dtype} {audio.shape} at {sr} Hz, peak {np.abs(audio).max():.3f}")

# %% Errors carry dvs's message and hint
try:
    snap.read("calls/es/9999.wav")
except dvs.SampleNotFound as e:
    print(f"{type(e).__name__}: {e}")

# %% PyTorch (when torch is installed): a DataLoader over the snapshot, and a model whose lineage dvs keeps
try:
    import torch
except ImportError:
    torch = None
    print("torch is not installed: skipping the training cells")

if torch is not None:
    from torch.utils.data import DataLoader

    it = snap.torch_iterable(shuffle=7, label="lang", sample_rate=16000)
    loader = DataLoader(it, batch_size=None, num_workers=2)
    print("iterable:", sorted(item["path"] for item in loader) == sorted(snap.paths))

    classes = sorted(set(snap.labels("lang")))
    ds = snap.torch_dataset(label="lang", sample_rate=16000)
    model = torch.nn.Linear(2, len(classes))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)

    def features(a):
        return torch.stack([a.abs().mean(), a.pow(2).mean().sqrt()])

    out = tempfile.mkdtemp(prefix="dvs-tour-model-")
    with repo.run(rev="HEAD", name="lang-tour", params={"lr": 0.5, "epochs": 5}, label="lang", task="classify") as run:
        for epoch in range(5):
            for i in range(len(ds)):
                item = ds[i]
                loss = torch.nn.functional.cross_entropy(
                    model(features(item["audio"]))[None], torch.tensor([classes.index(item["label"])])
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = [classes[int(model(features(ds[i]["audio"])).argmax())] for i in range(len(ds))]
        accuracy = float(np.mean([p == t for p, t in zip(pred, snap.labels("lang"))]))
        run.log_metrics({"accuracy": accuracy}, samples=len(ds))
        torch.save(model.state_dict(), f"{out}/model.pt")
        run.log_artifact(f"{out}/model.pt", parameter_count=sum(p.numel() for p in model.parameters()))

    # %% Lineage: the model, what it was trained on, with which code and parameters, and how it did
    print(repo.models()[["name", "snapshot"]].tail(3).to_string(index=False))
    audit = repo.audit(f"{out}/model.pt")
    print(str(audit)[:400], "…")

repo.close()
