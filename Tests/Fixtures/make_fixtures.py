#!/usr/bin/env python3
"""Writes the test fixtures of dvs into a folder: `audio_edge/` (one small audio file per reader
edge case) and `dataset/` (a labeled dataset with planted manifest errors and Deepgram responses).

    python3 Tests/Fixtures/make_fixtures.py OUT

Python 3 standard library only, plus the `sox` and `espeak-ng` programs and libsndfile (through
ctypes, for Ogg Opus, which sox cannot write). The output is the same bytes on every run with the
same tool versions (Debian 12's, as scripts/install-deps.sh installs them): no clocks, no random
numbers, and the Ogg stream serial numbers (random in the encoders) are overwritten. What each file
covers and what the tests expect of it: Tests/Fixtures/README.md.
"""

import csv
import ctypes
import ctypes.util
import hashlib
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import uuid

# ---------------------------------------------------------------------------------------------
# Small helpers


def chunk(tag, payload):
    """A RIFF chunk: tag, little-endian size, payload, and the pad byte an odd size needs."""
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def riff(chunks, riff_size=None):
    """A RIFF/WAVE file of `chunks`; `riff_size` overrides the size field (for broken files)."""
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def fmt_pcm(fmt_tag, channels, rate, bits, cb_size=None):
    """A plain `fmt ` chunk (16 bytes, or 18 with a cbSize field when `cb_size` is given)."""
    block = channels * bits // 8
    payload = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    if cb_size is not None:
        payload += struct.pack("<H", cb_size)
    return chunk(b"fmt ", payload)


PCM_GUID = bytes.fromhex("0100000000001000800000aa00389b71")


def fmt_extensible(channels, rate, container_bits, valid_bits, mask):
    """A WAVE_FORMAT_EXTENSIBLE `fmt ` chunk (40 bytes) with the PCM sub-format."""
    block = channels * container_bits // 8
    payload = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, container_bits)
    payload += struct.pack("<HHI", 22, valid_bits, mask) + PCM_GUID
    return chunk(b"fmt ", payload)


def sine(frames, rate, freq, amp):
    """`frames` samples of a sine (floats in [-amp, amp])."""
    return [amp * math.sin(2 * math.pi * freq * i / rate) for i in range(frames)]


def pcm16(samples):
    return b"".join(struct.pack("<h", max(-32768, min(32767, round(s * 32767)))) for s in samples)


def interleave(*channels):
    return [s for frame in zip(*channels) for s in frame]


def run(args, **kw):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def sox(*args):
    # -R: repeatable (fixed seeds); -D: no dither, so conversions are exact functions of the input.
    run(["sox", "-R", "-D", "-V1", *args])


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


OGG_CRC = []
for _i in range(256):
    _r = _i << 24
    for _ in range(8):
        _r = ((_r << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if _r & 0x80000000 else (_r << 1) & 0xFFFFFFFF
    OGG_CRC.append(_r)


def ogg_fixed_serial(data, serial=0x64767331):
    """The Ogg stream with every page's serial number set to `serial` and its CRC recomputed
    (encoders pick a random serial, which would make the bytes differ on each run)."""
    out = bytearray(data)
    pos = 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS":
            raise ValueError("not an Ogg page at %d" % pos)
        segments = out[pos + 26]
        length = 27 + segments + sum(out[pos + 27:pos + 27 + segments])
        out[pos + 14:pos + 18] = struct.pack("<I", serial)
        out[pos + 22:pos + 26] = b"\x00\x00\x00\x00"
        crc = 0
        for b in out[pos:pos + length]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[((crc >> 24) ^ b) & 0xFF]
        out[pos + 22:pos + 26] = struct.pack("<I", crc)
        pos += length
    return bytes(out)


class SFInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def libsndfile_write_opus(path, samples, rate):
    """Encodes mono float `samples` as Ogg Opus with libsndfile (SF_FORMAT_OGG | SF_FORMAT_OPUS)."""
    lib = ctypes.CDLL(ctypes.util.find_library("sndfile") or "libsndfile.so.1")
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SFInfo)]
    lib.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    info = SFInfo(0, rate, 1, 0x200000 | 0x0064, 0, 0)
    handle = lib.sf_open(path.encode(), 0x20, ctypes.byref(info))  # SFM_WRITE
    if not handle:
        raise RuntimeError("libsndfile cannot write Ogg Opus to " + path)
    buf = (ctypes.c_float * len(samples))(*samples)
    lib.sf_writef_float(handle, buf, len(samples))
    lib.sf_close(handle)


# ---------------------------------------------------------------------------------------------
# audio_edge/: one file per case a WAV or audio reader can trip over


def make_audio_edge(out, tmp):
    d = os.path.join(out, "audio_edge")
    os.makedirs(d)
    tone16k = sine(1600, 16000, 500, 0.3)  # 0.1 s at 16 kHz
    tone_pcm = pcm16(tone16k)
    base = riff([fmt_pcm(1, 1, 16000, 16), chunk(b"data", tone_pcm)])

    def put(name, data):
        write(os.path.join(d, name), data)

    put("pcm16_mono_16k.wav", base)

    left = sine(2400, 48000, 500, 0.3)
    right = sine(2400, 48000, 750, 0.2)
    p24 = b"".join(struct.pack("<i", round(s * 8388607))[:3] for s in interleave(left, right))
    put("extensible_pcm24_stereo_48k.wav", riff([fmt_extensible(2, 48000, 24, 24, 0x3), chunk(b"data", p24)]))

    p24in32 = b"".join(struct.pack("<i", round(s * 8388607) << 8) for s in tone16k)
    put("extensible_pcm24_in_32bit_container.wav",
        riff([fmt_extensible(1, 16000, 32, 24, 0x4), chunk(b"data", p24in32)]))

    fact1600 = chunk(b"fact", struct.pack("<I", 1600))
    put("float32_mono.wav",
        riff([fmt_pcm(3, 1, 16000, 32, cb_size=0), fact1600, chunk(b"data", struct.pack("<1600f", *tone16k))]))
    loud = [s * 5 for s in tone16k]  # peaks at ±1.5: outside the [-1, 1] a float WAV should hold
    put("float32_out_of_range.wav",
        riff([fmt_pcm(3, 1, 16000, 32, cb_size=0), fact1600, chunk(b"data", struct.pack("<1600f", *loud))]))

    # mu-law and A-law: encoded by sox from an 8 kHz PCM16 tone, then wrapped in headers written here.
    tone8k = os.path.join(tmp, "tone8k.raw")
    write(tone8k, pcm16(sine(800, 8000, 500, 0.3)))
    law = {}
    for enc, tag in (("mu-law", 7), ("a-law", 6)):
        raw = os.path.join(tmp, enc + ".raw")
        sox("-t", "raw", "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", tone8k,
            "-t", "raw", "-e", enc, "-b", "8", raw)
        law[tag] = open(raw, "rb").read()
    fact800 = chunk(b"fact", struct.pack("<I", 800))
    put("mulaw_8k_mono.wav", riff([fmt_pcm(7, 1, 8000, 8, cb_size=0), fact800, chunk(b"data", law[7])]))
    put("alaw_8k_mono.wav", riff([fmt_pcm(6, 1, 8000, 8, cb_size=0), fact800, chunk(b"data", law[6])]))
    put("mulaw_8k_no_fact_chunk.wav", riff([fmt_pcm(7, 1, 8000, 8, cb_size=0), chunk(b"data", law[7])]))

    title = "Kettle test \U0001F375 take 2".encode("utf-8") + b"\x00"
    info = b"INFO" + chunk(b"INAM", title) + chunk(b"ISFT", b"make_fixtures.py\x00")
    put("list_info_before_data.wav", riff([fmt_pcm(1, 1, 16000, 16), chunk(b"LIST", info), chunk(b"data", tone_pcm)]))

    u8 = bytes(128 + round(s * 127) for s in sine(101, 8000, 500, 1.0))  # 101 bytes: odd, so padded
    put("pcm_u8_odd_data_size.wav", riff([fmt_pcm(1, 1, 8000, 8), chunk(b"data", u8)]))

    # A recorder that never went back to fill in the sizes: RIFF and data say 0, samples follow.
    streaming = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + fmt_pcm(1, 1, 16000, 16) + b"data" + struct.pack("<I", 0)
    put("data_size_zero_streaming.wav", streaming + tone_pcm)

    # The data chunk declares 1600 frames; the file ends after 1234 frames and half a sample.
    put("truncated_mid_sample.wav", base[:44 + 1234 * 2 + 1])
    put("zero_bytes.wav", b"")
    put("header_only_no_samples.wav", riff([fmt_pcm(1, 1, 16000, 16), chunk(b"data", b"")]))
    put("very_short_10ms.wav", riff([fmt_pcm(1, 1, 16000, 16), chunk(b"data", tone_pcm[:320])]))
    html = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
            b"<body><p>The upstream server did not answer.</p></body></html>\n")
    put("html_error_page_named_wav.wav", html)
    put("junk_chunk_before_fmt.wav",
        riff([chunk(b"JUNK", b"\x00" * 28), fmt_pcm(1, 1, 16000, 16), chunk(b"data", tone_pcm)]))
    put("stereo_identical_channels.wav", riff([fmt_pcm(1, 2, 16000, 16), chunk(b"data", pcm16(interleave(tone16k, tone16k)))]))
    put("stereo_one_silent_channel.wav",
        riff([fmt_pcm(1, 2, 16000, 16), chunk(b"data", pcm16(interleave(tone16k, [0.0] * 1600)))]))
    put("all_zero_samples.wav", riff([fmt_pcm(1, 1, 16000, 16), chunk(b"data", b"\x00" * 3200)]))

    # Compressed formats, all from the baseline tone (Opus at 48 kHz, the only rate it keeps).
    src = os.path.join(d, "pcm16_mono_16k.wav")
    sox(src, os.path.join(d, "tone.flac"))
    vorbis = os.path.join(tmp, "tone.ogg")
    sox(src, "-C", "3", vorbis)
    put("tone_vorbis.ogg", ogg_fixed_serial(open(vorbis, "rb").read()))
    sox(src, "-C", "-4.2", os.path.join(d, "tone.mp3"))  # VBR: lame writes a Xing/LAME tag (gapless length)
    opus = os.path.join(tmp, "tone.opus")
    libsndfile_write_opus(opus, sine(4800, 48000, 500, 0.3), 48000)
    put("tone_opus.opus", ogg_fixed_serial(open(opus, "rb").read()))


# ---------------------------------------------------------------------------------------------
# dataset/: clips with manifests in five formats, each with planted problems

CLIPS = os.path.join("dataset", "clips")
NFC_NAME = unicodedata.normalize("NFC", "chlo\u00e9_0001.wav")  # 'chlo' c3 a9: the form on disk
NFD_NAME = unicodedata.normalize("NFD", NFC_NAME)  # 'chlo' 65 cc 81: the form manifest.jsonl uses

# name -> (text espeak-ng says, seconds); every clip is 16 kHz mono PCM16.
SHORT_CLIPS = [
    ("ana_0001.wav", "the parcel left on monday", 0.5),
    ("ana_0002.wav", "he wrote urgent on the box", 0.75),
    ("ben_0001.wav", "first line second line", 0.4),
    ("ben 0002.wav", "a short reply", 0.3),
    (NFC_NAME, "creme brulee please", 0.5),
]


def speak(tmp, text, voice="en", speed=175):
    """espeak-ng's 22.05 kHz PCM16 WAV of `text`, as a path."""
    path = os.path.join(tmp, "espeak-%s.wav" % hashlib.sha1((voice + str(speed) + text).encode()).hexdigest()[:12])
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", path, text])
    return path


def speech_8k(tmp, text, voice):
    """`text` spoken, as a list of 8 kHz PCM16 sample values."""
    raw = os.path.join(tmp, "s8k.raw")
    sox(speak(tmp, text, voice), "-t", "raw", "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", raw)
    data = open(raw, "rb").read()
    return list(struct.unpack("<%dh" % (len(data) // 2), data))


def place(track, samples, at_seconds, rate=8000):
    """Mixes `samples` into `track` from `at_seconds`, cutting what would run past its end."""
    start = round(at_seconds * rate)
    for i, s in enumerate(samples[:max(0, len(track) - start)]):
        track[start + i] = max(-32768, min(32767, track[start + i] + s))


def mulaw_wav(tmp, path, channels_samples, rate=8000):
    """Writes 8 kHz mu-law WAV at `path` from per-channel PCM16 sample lists (sox encodes)."""
    raw = os.path.join(tmp, "call.raw")
    write(raw, b"".join(struct.pack("<h", s) for s in interleave(*channels_samples)))
    sox("-t", "raw", "-r", str(rate), "-c", str(len(channels_samples)), "-e", "signed-integer", "-b", "16", raw,
        "-e", "mu-law", "-b", "8", path)


def make_clips(out, tmp):
    clips = os.path.join(out, CLIPS)
    os.makedirs(clips)
    for name, text, seconds in SHORT_CLIPS:
        # Fast speech, cut (or padded with silence) to exactly `seconds`.
        sox(speak(tmp, text, "en", 320), "-r", "16000", "-c", "1", "-e", "signed-integer", "-b", "16",
            os.path.join(clips, name), "pad", "0", "1", "trim", "0", str(seconds))
    # The diarized mono call: agent, customer, agent on one channel (6.2 s).
    mono = [0] * 49600
    place(mono, speech_8k(tmp, "Good morning, Lakeside Internet, Priya speaking.", "en"), 0.3)
    place(mono, speech_8k(tmp, "Hello Priya, my connection keeps cutting out.", "en+f3"), 3.1)
    place(mono, speech_8k(tmp, "Let me check.", "en"), 5.4)
    mulaw_wav(tmp, os.path.join(clips, "call_0001_mono.wav"), [mono])
    # The two-channel call: agent on channel 0, customer on channel 1 from 2.0 s (6.0 s).
    agent = [0] * 48000
    customer = [0] * 48000
    place(agent, speech_8k(tmp, "Lakeside billing, how may I help?", "en"), 0.4)
    place(customer, speech_8k(tmp, "I was billed twice.", "en+f3"), 2.0)
    place(agent, speech_8k(tmp, "Sure, refunding it now.", "en"), 3.6)
    mulaw_wav(tmp, os.path.join(clips, "call_0002_stereo.wav"), [agent, customer])
    # Digital silence (3.0 s).
    mulaw_wav(tmp, os.path.join(clips, "call_0003_silence.wav"), [[0] * 24000])


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def fixed_uuid(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "dvs-fixtures:" + name))


MODEL = fixed_uuid("model")


def deepgram_metadata(out, clip, seconds, channels):
    return {
        "request_id": fixed_uuid("request:" + clip),
        "created": "2026-02-09T14:05:31.250Z",
        "sha256": sha256(os.path.join(out, CLIPS, clip)),
        "duration": seconds,
        "channels": channels,
        "models": [MODEL],
        "model_info": {MODEL: {"name": "general-nova-3", "version": "2025-01-15.0", "arch": "nova-3"}},
    }


def dg_words(spec, speaker=None):
    """Deepgram word objects from (punctuated word, start, end, confidence[, speaker]) tuples.
    Times such as 2.4399998 imitate Deepgram's float32 times printed as decimals."""
    words = []
    for item in spec:
        text, start, end, conf = item[:4]
        w = {"word": text.lower().strip(",.?"), "start": start, "end": end, "confidence": conf}
        if len(item) > 4:
            w["speaker"] = item[4]
            w["speaker_confidence"] = 0.83 if item[4] == 0 else 0.77
        w["punctuated_word"] = text
        words.append(w)
    return words


def utterance(words, channel, speaker, name, with_id=True):
    u = {"start": words[0]["start"], "end": words[-1]["end"],
         "confidence": round(sum(w["confidence"] for w in words) / len(words), 6), "channel": channel,
         "transcript": " ".join(w["punctuated_word"] for w in words), "words": words, "speaker": speaker}
    if with_id:
        u["id"] = fixed_uuid("utterance:" + name)
    return u


def make_deepgram(out):
    d = os.path.join(out, "dataset", "deepgram")
    os.makedirs(d)

    def dump(name, obj):
        write(os.path.join(d, name), (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())

    # Mono call, diarized: speakers 0 (agent) and 1 (customer) are labels within this file only.
    spec = [
        ("Good", 0.3, 0.52, 0.9962, 0), ("morning,", 0.52, 0.96, 0.9978, 0),
        ("Lakeside", 1.04, 1.52, 0.8347, 0), ("Internet,", 1.52, 2.0, 0.9915, 0),
        ("Priya", 2.08, 2.4399998, 0.9106, 0), ("speaking.", 2.4399998, 2.96, 0.9987, 0),
        ("Hello", 3.1, 3.36, 0.9971, 1), ("Priya,", 3.36, 3.72, 0.9532, 1), ("my", 3.8, 3.92, 0.9996, 1),
        ("connection", 3.92, 4.4, 0.9989, 1), ("keeps", 4.4, 4.64, 0.9958, 1),
        ("cutting", 4.64, 4.9599996, 0.9893, 1), ("out.", 4.9599996, 5.2, 0.9977, 1),
        ("Let", 5.4, 5.56, 0.9984, 0), ("me", 5.56, 5.72, 0.9997, 0), ("check.", 5.72, 6.12, 0.9953, 0),
    ]
    words = dg_words(spec)
    turns = [(words[0:6], 0), (words[6:13], 1), (words[13:], 0)]
    transcript = " ".join(w["punctuated_word"] for w in words)
    paragraphs = [{"sentences": [{"text": " ".join(w["punctuated_word"] for w in ws), "start": ws[0]["start"],
                                  "end": ws[-1]["end"]}], "speaker": s, "num_words": len(ws),
                   "start": ws[0]["start"], "end": ws[-1]["end"]} for ws, s in turns]
    para_text = "".join("\n\nSpeaker %d: %s" % (s, " ".join(w["punctuated_word"] for w in ws)) for ws, s in turns)
    dump("call_0001_mono.json", {
        "metadata": deepgram_metadata(out, "call_0001_mono.wav", 6.2, 1),
        "results": {
            "channels": [{"alternatives": [{
                "transcript": transcript, "confidence": 0.9951, "words": words,
                "paragraphs": {"transcript": para_text[1:], "paragraphs": paragraphs}}]}],
            "utterances": [utterance(ws, 0, s, "mono%d" % i) for i, (ws, s) in enumerate(turns)],
        },
    })

    # Stereo call, multichannel: one result per audio channel, no word speakers, but utterances
    # still say speaker 0. The customer (channel 1) starts at 2.0 s while the agent ends at 2.1 s.
    agent1 = dg_words([("Lakeside", 0.4, 0.88, 0.9683), ("billing,", 0.88, 1.28, 0.9921), ("how", 1.36, 1.52, 0.9995),
                       ("may", 1.52, 1.68, 0.9979), ("I", 1.68, 1.76, 0.9988), ("help?", 1.76, 2.1, 0.9964)])
    agent2 = dg_words([("Sure,", 3.6, 3.92, 0.9941), ("refunding", 4.0, 4.56, 0.9872), ("it", 4.56, 4.64, 0.9993),
                       ("now.", 4.64, 5.0, 0.9982)])
    cust = dg_words([("I", 2.0, 2.08, 0.9802), ("was", 2.08, 2.32, 0.9969), ("billed", 2.32, 2.72, 0.9617),
                     ("twice.", 2.72, 3.2, 0.9944)])
    agent_words = agent1 + agent2
    dump("call_0002_stereo.json", {
        "metadata": deepgram_metadata(out, "call_0002_stereo.wav", 6.0, 2),
        "results": {
            "channels": [
                {"alternatives": [{"transcript": " ".join(w["punctuated_word"] for w in agent_words),
                                   "confidence": 0.991827, "words": agent_words}],
                 "detected_language": "en", "language_confidence": 0.9731},
                {"alternatives": [{"transcript": " ".join(w["punctuated_word"] for w in cust),
                                   "confidence": 0.983305, "words": cust}],
                 "detected_language": "en", "language_confidence": 0.9412},
            ],
            "utterances": [utterance(agent1, 0, 0, "st0"), utterance(cust, 1, 0, "st1"), utterance(agent2, 0, 0, "st2")],
        },
    })

    # Silence: nothing recognised; code that reads words[0] crashes here.
    dump("call_0003_silence.json", {
        "metadata": deepgram_metadata(out, "call_0003_silence.wav", 3.0, 1),
        "results": {
            "channels": [{"alternatives": [{"transcript": "", "confidence": 0.0, "words": [],
                                            "paragraphs": {"transcript": "\n", "paragraphs": []}}],
                          "detected_language": "en", "language_confidence": 0.18}],
            "utterances": [],
        },
    })


def make_manifests(out):
    ds = os.path.join(out, "dataset")

    # metadata.csv (Hugging Face audiofolder), RFC 4180 quoting; record 3 spans two lines.
    rows = [
        ["file_name", "transcription", "speaker_id", "label", "duration"],
        ["clips/ana_0001.wav", "Yes, the parcel left on Monday.", "021", "agent", "0.5"],
        ["clips/ana_0002.wav", 'He wrote "urgent" on the box', "021", "customer", "0.75"],
        ["clips/ben_0001.wav", "first line\nsecond line", "034", "billing,refund", "0.4"],
        ["clips/ben 0002.wav", "a short reply", "034", "agent", "0.3"],
        ["clips/" + NFC_NAME, "Chlo\u00e9's cr\u00e8me br\u00fbl\u00e9e", "046", "customer", "0.5"],
        ["clips/dara_0001.wav", "this file was never uploaded", "052", "agent", "1.0"],
        ["clips/ana_0001.wav", "Yes, the parcel left on Monday.", "021", "agent", "0.5"],
        ["clips/call_0003_silence.wav", "", "060", "silence", "3.0"],
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    write(os.path.join(ds, "metadata.csv"), buf.getvalue().encode())

    # manifest.jsonl (NeMo), one object per line.
    lines = [
        {"audio_filepath": "clips/ana_0001.wav", "duration": 0.5, "text": "yes the parcel left on monday", "speaker": "ana"},
        {"audio_filepath": "clips/ana_0002.wav", "duration": 0.75, "text": 'he wrote "urgent" on the box'},
        {"audio_filepath": "clips/ben_0001.wav", "duration": 0.4, "text": "first line\nsecond line"},
        {"audio_filepath": "clips/ben 0002.wav", "duration": 0.3, "text": "a short reply"},
        {"audio_filepath": "clips/" + NFD_NAME, "duration": 0.5, "text": "chlo\u00e9's cr\u00e8me br\u00fbl\u00e9e"},
        {"audio_filepath": "clips/dara_0001.wav", "duration": 1.0, "text": "this file was never uploaded"},
        {"audio_filepath": "clips/call_0001_mono.wav", "offset": 3.1, "duration": 2.1,
         "text": "hello priya my connection keeps cutting out", "speaker": "customer"},
        {"audio_filepath": "clips/ana_0001.wav", "duration": 0.5, "text": "yes the parcel left on monday", "speaker": "ana"},
        {"audio_filename": "clips/ana_0002.wav", "duration": 0.9, "text": "old key name and a wrong duration"},
        {"audio_filepath": "clips/ben_0001.wav", "duration": "0.4", "text": "duration written as a string"},
    ]
    write(os.path.join(ds, "manifest.jsonl"),
          "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines).encode())

    # validated.tsv (Common Voice): TAB separated, no quoting at all, paths relative to clips/.
    def client(name):
        return hashlib.sha512(("client:" + name).encode()).hexdigest()

    def sentence_id(text):
        return hashlib.sha256(("sentence:" + text).encode()).hexdigest()

    def cv(who, path, text, up, down, age, gender, accent):
        return [client(who), path, sentence_id(text), text, "", str(up), str(down), age, gender, accent, "", "en", ""]

    header = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
              "gender", "accents", "variant", "locale", "segment"]
    first = cv("ana", "ana_0001.wav", "Yes, the parcel left on Monday.", 2, 0, "thirties", "female_feminine",
               "Irish English")
    records = [
        header,
        first,
        cv("ana", "ana_0002.wav", '"Stop," he wrote on the box.', 4, 1, "thirties", "female_feminine", "Irish English"),
        cv("ben", "ben_0001.wav", "\u00c7a co\u00fbte combien ?", 2, 0, "fourties", "male_masculine", ""),
        cv("ben", "ben 0002.wav", "A short reply.", 2, 0, "", "", ""),
        cv("chloe", NFC_NAME, "Chlo\u00e9's cr\u00e8me br\u00fbl\u00e9e.", 2, 0, "twenties", "", ""),
        cv("dara", "dara_0001.wav", "This file was never uploaded.", 2, 0, "", "", ""),
        first,
        cv("ben", "ana_0002.wav", "A tab\there splits the row", 2, 0, "twenties", "", ""),
        cv("chloe", "ben_0001.wav", '"An opening quote that never closes', 2, 0, "twenties", "", ""),
        cv("dara", "ana_0001.wav", "The final row, swallowed by a quote-aware reader.", 2, 0, "", "", ""),
    ]
    write(os.path.join(ds, "validated.tsv"), "".join("\t".join(r) + "\n" for r in records).encode())

    durations = [("ana_0001.wav", 500), ("ana_0002.wav", 900), ("ben_0001.wav", 400), ("ben 0002.wav", 300),
                 (NFC_NAME, 500)]
    write(os.path.join(ds, "clip_durations.tsv"),
          ("clip\tduration[ms]\n" + "".join("%s\t%d\n" % d for d in durations)).encode())


def ls_region(rid, length, start, end, labels, texts):
    value = {"start": start, "end": end, "channel": 0}
    common = {"id": rid, "to_name": "audio", "origin": "manual", "original_length": length}
    return [dict(common, from_name="speaker", type="labels", value=dict(value, labels=labels)),
            dict(common, from_name="transcription", type="textarea", value=dict(value, text=texts))]


def ls_choice(cid, choice):
    return {"id": cid, "from_name": "call_quality", "to_name": "audio", "type": "choices", "origin": "manual",
            "value": {"choices": [choice]}}


def ls_annotation(aid, task, annotator, when, lead, result, cancelled=False):
    return {"id": aid, "completed_by": annotator, "result": result, "was_cancelled": cancelled,
            "ground_truth": False, "created_at": when, "updated_at": when, "lead_time": lead, "task": task,
            "prediction": {}, "result_count": 0, "parent_prediction": None, "parent_annotation": None}


def ls_task(tid, inner, audio, clip_id, annotations):
    return {"id": tid, "data": {"audio": audio, "clip_id": clip_id}, "annotations": annotations,
            "predictions": [], "meta": {}, "created_at": "2026-01-20T10:00:00.000000Z",
            "updated_at": "2026-01-21T16:30:00.000000Z", "inner_id": inner,
            "total_annotations": len(annotations),
            "cancelled_annotations": sum(1 for a in annotations if a["was_cancelled"]), "total_predictions": 0,
            "project": 5}


def make_labelstudio(out):
    d = os.path.join(out, "dataset", "labelstudio")
    os.makedirs(d)
    write(os.path.join(d, "config.xml"), b"""<View>
  <Audio name="audio" value="$audio"/>
  <Labels name="speaker" toName="audio">
    <Label value="Agent"/>
    <Label value="Customer"/>
  </Labels>
  <TextArea name="transcription" toName="audio" perRegion="true" editable="true"/>
  <Choices name="call_quality" toName="audio">
    <Choice value="Good"/>
    <Choice value="Poor"/>
  </Choices>
</View>
""")
    local = "/data/local-files/?d=clips/"
    tasks = [
        ls_task(201, 1, local + "ana_0001.wav", "ana_0001", [
            ls_annotation(7001, 201, 4, "2026-01-21T09:02:10.400000Z", 12.6,
                          ls_region("g201a", 0.5, 0.05, 0.45, ["Agent"], ['Yes, the "P-7" parcel left on Monday.'])
                          + [ls_choice("c201", "Good")])]),
        # An upload: Label Studio put 8 hex digits before the original name.
        ls_task(202, 2, "/data/upload/5/3fa94c1d-ana_0002.wav", "ana_0002", [
            ls_annotation(7002, 202, 4, "2026-01-21T09:05:00.000000Z", 20.1,
                          ls_region("g202a", 0.75, 0.05, 0.7, ["Customer"], ["he wrote\nurgent"])
                          + [ls_choice("c202a", "Poor")]),
            ls_annotation(7003, 202, 11, "2026-01-21T10:40:15.000000Z", 16.4,
                          ls_region("g202b", 0.75, 0.03, 0.72, ["Agent"], ["he wrote urgent"])
                          + [ls_choice("c202b", "Good")])]),
        # Percent-encoded UTF-8 name; the region ends after the 0.5 s clip.
        ls_task(203, 3, local + "chlo%C3%A9_0001.wav", "chloe_0001", [
            ls_annotation(7004, 203, 4, "2026-01-21T09:08:30.000000Z", 8.8,
                          ls_region("g203a", 0.5, 0.05, 0.56, ["Customer"], ["Chlo\u00e9's cr\u00e8me br\u00fbl\u00e9e"]))]),
        # The file never arrived; the only annotation was cancelled.
        ls_task(204, 4, local + "dara_0001.wav", "dara_0001", [
            ls_annotation(7005, 204, 11, "2026-01-21T11:00:45.000000Z", 2.4, [], cancelled=True)]),
        # A second task for task 201's clip.
        ls_task(205, 5, local + "ana_0001.wav", "ana_0001_again", [
            ls_annotation(7006, 205, 11, "2026-01-21T11:03:20.000000Z", 6.9,
                          ls_region("g205a", 0.5, 0.05, 0.45, ["Agent"], ["Yes, the parcel left on Monday."]))]),
        # A space as %20; the text area holds two texts.
        ls_task(206, 6, local + "ben%200002.wav", "ben_0002", [
            ls_annotation(7007, 206, 4, "2026-01-21T09:12:05.000000Z", 10.2,
                          ls_region("g206a", 0.3, 0.04, 0.26, ["Agent"], ["take one", "take two"]))]),
    ]
    write(os.path.join(d, "export.json"), (json.dumps(tasks, indent=2, ensure_ascii=False) + "\n").encode())

    # export.csv as label-studio-converter writes it: one row per kept annotation, newest first.
    rows = []
    for t in tasks:
        for a in t["annotations"]:
            if a["was_cancelled"]:
                continue
            regions = [r["value"] for r in a["result"] if r["from_name"] == "speaker"]
            texts = [r["value"] for r in a["result"] if r["from_name"] == "transcription"]
            choice = [r["value"]["choices"][0] for r in a["result"] if r["from_name"] == "call_quality"]
            if len(texts) == 1 and len(texts[0]["text"]) == 1:
                transcription = texts[0]["text"][0]
            else:
                transcription = json.dumps(texts if len(texts) > 1 else texts[0])
            rows.append((a["updated_at"], [t["data"]["audio"], t["data"]["clip_id"], t["id"], json.dumps(regions),
                                           transcription, choice[0] if choice else "", a["completed_by"], a["id"],
                                           a["created_at"], a["updated_at"], a["lead_time"]]))
    rows.sort(key=lambda r: r[0], reverse=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["audio", "clip_id", "id", "speaker", "transcription", "call_quality", "annotator", "annotation_id",
                "created_at", "updated_at", "lead_time"])
    w.writerows(r[1] for r in rows)
    write(os.path.join(d, "export.csv"), buf.getvalue().encode())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUT  (OUT must not exist or be empty)")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if os.listdir(out):
        sys.exit("make_fixtures.py: %s is not empty" % out)
    tmp = tempfile.mkdtemp(prefix="dvs-fixtures-")
    try:
        make_audio_edge(out, tmp)
        make_clips(out, tmp)
        make_deepgram(out)
        make_manifests(out)
        make_labelstudio(out)
    except subprocess.CalledProcessError as e:
        sys.exit("make_fixtures.py: %s failed: %s" % (" ".join(e.cmd), e.stderr.decode(errors="replace")))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
