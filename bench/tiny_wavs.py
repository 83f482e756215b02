#!/usr/bin/env python3
"""bench/tiny_wavs.py ROOT N TABLE KEY [--score]: N tiny 16-bit WAVs (50 ms of noise at
16 kHz, mono) under ROOT/spkNNNN/ (1,000 speakers, 7 languages), and a label table ROOT/TABLE
with columns KEY,speaker,lang,label[,score]. Deterministic (seed 7), so benches that share it
build the same audio. Used by bench/labels.sh and bench/lineage.sh."""
import os, random, struct, sys

root, n, table, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
score = "--score" in sys.argv[5:]
r = random.Random(7)
langs = ["en", "de", "fr", "es", "it", "nl", "pt"]; labels = ["command", "question", "statement", "greeting", "digits", "noise_bg"]
frames = 800  # 50 ms at 16 kHz
rows = [f"{key},speaker,lang,label" + (",score" if score else "")]
for i in range(n):
    spk = i % 1000
    d = f"{root}/spk{spk:04d}"; os.makedirs(d, exist_ok=True)
    p = f"spk{spk:04d}/u{i:06d}.wav"
    data = r.randbytes(frames * 2)
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", len(data))
    with open(f"{root}/{p}", "wb") as f: f.write(hdr + data)
    rows.append(f"{p},spk{spk:04d},{langs[spk % 7]},{r.choice(labels)}" + (f",{r.random():.4f}" if score else ""))
with open(f"{root}/{table}", "w") as f: f.write("\n".join(rows) + "\n")
