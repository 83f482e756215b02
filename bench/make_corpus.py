#!/usr/bin/env python3
"""bench/make_corpus.py -- a deterministic synthetic speech corpus for the benchmarks.

  bench/make_corpus.py --out DIR --n N [--seed 42] [--mode full|fast] [--jobs J]
  bench/make_corpus.py --out DIR --mutate FRACTION [--mutate-seed K] [--jobs J]

Makes N clips DIR/spkNNN/spkNNN_uNNNNNN.wav of 2-15 s of pseudo-words spoken by espeak-ng
(7 languages, one voice variant, pitch and speed per speaker), over a low noise floor, in the
mix of formats a voice dataset has: 85 % 16 kHz mono 16-bit PCM, 10 % 8 kHz mono mu-law,
5 % 48 kHz stereo 16-bit PCM. Beside them: labels.csv (path,speaker,lang,label,score),
meta/clips.csv (path,sample_rate,channels,encoding,frames,duration_s,text), meta/speakers.csv
and manifest.json (n, seed, mode, files, bytes, audio hours; "mutations" once mutated).

--mode full (default) runs espeak-ng for every clip; --mode fast renders a pool of utterances
per language once and builds each clip from pool utterances with sox (same formats, lengths,
noise and labels; the speech repeats across clips, so it is faster but not the same audio).

--mutate FRACTION re-records that fraction of the clips (same paths, formats and byte sizes,
new words and noise) and relabels twice that fraction of the rows, rewriting labels.csv,
meta/clips.csv and manifest.json; every file it writes is replaced (new inode and mtime).

Same arguments and the same espeak-ng/sox builds give byte-identical output. Needs espeak-ng
and sox (scripts/install-deps.sh).
"""
import argparse, concurrent.futures, csv, io, json, os, random, shutil, subprocess, sys, tempfile

LANGS = [("en", "en-us"), ("de", "de"), ("fr", "fr-fr"), ("es", "es"), ("it", "it"), ("nl", "nl"), ("pt", "pt")]
VARIANTS = ["m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4"]
LABELS = ["command", "question", "statement", "greeting", "digits", "noise_bg"]
# (share, sample rate, channels, sox encoding options, encoding name in meta/clips.csv)
FORMATS = [(0.85, 16000, 1, ["-e", "signed-integer", "-b", "16"], "pcm16"),
           (0.10, 8000, 1, ["-e", "mu-law", "-b", "8"], "mulaw"),
           (0.05, 48000, 2, ["-e", "signed-integer", "-b", "16"], "pcm16")]
ONSETS = "p b t d k g m n l r s f v z h j w ch sh".split()
NUCLEI = "a e i o u ai ei au oo".split()
NOISE_SECONDS = 60  # noise pool length; a clip takes <= 15 s of it from a seeded offset


def words(rng, count):
    return " ".join("".join(rng.choice(ONSETS) + rng.choice(NUCLEI) for _ in range(rng.randint(1, 3)))
                    for _ in range(count))


def speakers(n, seed):
    count = max(1, min(999, n // 50))
    rng = random.Random(f"speakers:{seed}")
    out = []
    for s in range(count):
        lang, voice = LANGS[s % len(LANGS)]
        out.append({"speaker": f"spk{s:03d}", "lang": lang, "voice": f"{voice}+{rng.choice(VARIANTS)}",
                    "pitch": rng.randint(25, 75), "speed": rng.randint(140, 185)})
    return out


def clip_plan(i, n, seed, spk, generation=0):
    """Everything about clip i that does not depend on the audio: path, format, length, label."""
    rng = random.Random(f"clip:{seed}:{i}")
    sp = spk[i % len(spk)]
    share = rng.random()
    acc = 0.0
    for fmt in FORMATS:
        acc += fmt[0]
        if share < acc:
            break
    _, rate, channels, enc, enc_name = fmt
    frames = int(rng.uniform(2.0, 15.0) * rate)
    plan = {"i": i, "path": f"{sp['speaker']}/{sp['speaker']}_u{i:06d}.wav", "speaker": sp, "rate": rate,
            "channels": channels, "enc": enc, "enc_name": enc_name, "frames": frames,
            "label": rng.choice(LABELS), "score": f"{rng.random():.4f}"}
    return with_audio(plan, seed, generation)


def with_audio(plan, seed, generation):
    """The seeded audio choices of a clip; generation > 0 is a re-recording (--mutate)."""
    rng = random.Random(f"audio:{seed}:{plan['i']}:{generation}")
    seconds = plan["frames"] / plan["rate"]
    plan = dict(plan, text=words(rng, max(2, int(seconds * 2.4))), noise_offset=round(rng.uniform(0, NOISE_SECONDS - 16), 3),
                gain=round(rng.uniform(-6.0, 0.0), 2), pool=[rng.randrange(1 << 30) for _ in range(4)])
    return plan


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def render(plan, work, mode, pools, out_path):
    """Writes one clip: speech (espeak-ng, or pool utterances) mixed with the noise floor, then
    resampled, channel-mapped, encoded and cut to exactly plan['frames'] frames."""
    sp = plan["speaker"]
    fd, speech = tempfile.mkstemp(suffix=".wav", dir=work)
    os.close(fd)
    try:
        if mode == "full":
            run(["espeak-ng", "-v", sp["voice"], "-p", str(sp["pitch"]), "-s", str(sp["speed"]), "-w", speech, plan["text"]])
        else:
            pool = pools[sp["lang"]]
            picks = [pool[k % len(pool)] for k in plan["pool"]]
            run(["sox", "-R"] + picks + [speech, "speed", f"{sp['speed'] / 160:.3f}"])
        noise = os.path.join(work, f"noise-{plan['channels']}.wav")
        up = [] if plan["channels"] == 1 else ["remix", "1", "1"]
        tmp = out_path + ".tmp"
        run(["sox", "-R", "-m", "-v", "1", f"|sox -R {speech} -p {' '.join(up)}", "-v", "1",
             f"|sox -R {noise} -p trim {plan['noise_offset']}",
             "-r", str(plan["rate"]), "-c", str(plan["channels"])] + plan["enc"] +
            ["-t", "wav", tmp, "gain", str(plan["gain"]), "rate", str(plan["rate"]), "trim", "0", f"{plan['frames']}s"])
        os.replace(tmp, out_path)
    finally:
        os.unlink(speech)


def make_pools(work, mode, seed):
    """The noise floor (mono and stereo, 22,050 Hz like espeak-ng) and, for --mode fast, 12
    utterances per language."""
    for ch in (1, 2):
        run(["sox", "-R", "-n", "-r", "22050", "-c", str(ch), "-b", "16", os.path.join(work, f"noise-{ch}.wav"),
             "synth", str(NOISE_SECONDS), "pinknoise", "vol", "0.004"])
    pools = {}
    if mode != "fast":
        return pools
    rng = random.Random(f"pool:{seed}")
    for lang, voice in LANGS:
        pools[lang] = []
        for k in range(12):
            p = os.path.join(work, f"pool-{lang}-{k}.wav")
            run(["espeak-ng", "-v", f"{voice}+{rng.choice(VARIANTS)}", "-p", str(rng.randint(25, 75)), "-w", p,
                 words(rng, rng.randint(4, 10))])
            pools[lang].append(p)
    return pools


def write_replacing(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def csv_text(rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_tables(out, plans, labels):
    write_replacing(os.path.join(out, "labels.csv"), csv_text([["path", "speaker", "lang", "label", "score"]] + [
        [p["path"], p["speaker"]["speaker"], p["speaker"]["lang"], labels[p["i"]][0], labels[p["i"]][1]] for p in plans]))
    write_replacing(os.path.join(out, "meta", "clips.csv"), csv_text(
        [["path", "sample_rate", "channels", "encoding", "frames", "duration_s", "text"]] + [
            [p["path"], p["rate"], p["channels"], p["enc_name"], p["frames"], f"{p['frames'] / p['rate']:.3f}", p["text"]]
            for p in plans]))


def write_manifest(out, meta):
    files = total = 0
    for root, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name != "manifest.json" and not name.startswith("."):
                files += 1
                total += os.path.getsize(os.path.join(root, name))
    meta = dict(meta, files=files + 1, bytes_excluding_manifest=total)
    write_replacing(os.path.join(out, "manifest.json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")


def render_all(plans, work, mode, pools, out, jobs):
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        futures = [ex.submit(render, p, work, mode, pools, os.path.join(out, p["path"])) for p in plans]
        for k, f in enumerate(concurrent.futures.as_completed(futures), 1):
            f.result()
            if k % 1000 == 0:
                print(f"make_corpus: {k}/{len(plans)} clips", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--mode", choices=["full", "fast"], default="full")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--mutate", type=float)
    ap.add_argument("--mutate-seed", type=int, default=1)
    a = ap.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"make_corpus: {tool} is missing (scripts/install-deps.sh)")
    out = os.path.abspath(a.out)
    if a.mutate is None:
        if not a.n or a.n < 1:
            sys.exit("make_corpus: --n N (N >= 1) is required unless --mutate")
        meta = {"generator": "bench/make_corpus.py", "format": 1, "n": a.n, "seed": a.seed, "mode": a.mode}
        spk = speakers(a.n, a.seed)
        plans = [clip_plan(i, a.n, a.seed, spk) for i in range(a.n)]
        labels = {p["i"]: (p["label"], p["score"]) for p in plans}
    else:
        if not 0 < a.mutate <= 1:
            sys.exit("make_corpus: --mutate takes a fraction in (0, 1]")
        meta = json.load(open(os.path.join(out, "manifest.json")))
        spk = speakers(meta["n"], meta["seed"])
        generation = len(meta.get("mutations") or []) + 1
        plans = [clip_plan(i, meta["n"], meta["seed"], spk) for i in range(meta["n"])]
        # Earlier mutations: their clips' words are in meta/clips.csv, their labels in labels.csv.
        old_text = {r["path"]: r["text"] for r in csv.DictReader(open(os.path.join(out, "meta", "clips.csv"), newline=""))}
        old_labels = {r["path"]: (r["label"], r["score"]) for r in csv.DictReader(open(os.path.join(out, "labels.csv"), newline=""))}
        plans = [dict(p, text=old_text[p["path"]]) for p in plans]
        labels = {p["i"]: old_labels[p["path"]] for p in plans}
        rng = random.Random(f"mutate:{meta['seed']}:{a.mutate_seed}:{generation}")
        changed = sorted(rng.sample(range(meta["n"]), max(1, round(a.mutate * meta["n"]))))
        relabeled = sorted(rng.sample(range(meta["n"]), max(1, round(2 * a.mutate * meta["n"]))))
        for i in changed:
            plans[i] = with_audio(plans[i], f"{meta['seed']}:{a.mutate_seed}", generation)
        for i in relabeled:
            label, score = labels[i]
            labels[i] = (rng.choice([x for x in LABELS if x != label]), score)
        meta["mutations"] = (meta.get("mutations") or []) + [
            {"fraction": a.mutate, "seed": a.mutate_seed, "clips": len(changed), "relabeled_rows": len(relabeled)}]
    work = tempfile.mkdtemp(prefix="make_corpus.")
    try:
        pools = make_pools(work, meta["mode"], meta["seed"])
        todo = plans if a.mutate is None else [plans[i] for i in changed]
        for s in spk:
            os.makedirs(os.path.join(out, s["speaker"]), exist_ok=True)
        os.makedirs(os.path.join(out, "meta"), exist_ok=True)
        render_all(todo, work, meta["mode"], pools, out, a.jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_replacing(os.path.join(out, "meta", "speakers.csv"), csv_text(
        [["speaker", "lang", "voice", "pitch", "speed"]] + [[s["speaker"], s["lang"], s["voice"], s["pitch"], s["speed"]] for s in spk]))
    write_tables(out, plans, labels)
    hours = sum(p["frames"] / p["rate"] for p in plans) / 3600
    write_manifest(out, dict(meta, audio_hours=round(hours, 3)))
    print(f"make_corpus: {out}: {meta['n']} clips, {hours:.2f} h" +
          (f"; re-recorded {len(changed)} clips, relabeled {len(relabeled)} rows" if a.mutate is not None else ""),
          file=sys.stderr)


if __name__ == "__main__":
    main()
