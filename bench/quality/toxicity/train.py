#!/usr/bin/env python3
"""Trains the toxicity auditor's compact classifier from the `tune` split.

    python train.py OUT_DIR [--cv | --folds]

reads OUT_DIR/toxicity.train.jsonl (written by extract.py: every tune-split row of the sources,
before the bench's per-source caps; never a held-out row), fits a logistic regression on hashed
word, word-bigram and character n-gram features, and writes
guests/toxicity/model/toxicity.bin (the quantised weights the component embeds) and
guests/toxicity/model/parity.json (texts with the logit this script computes for them; the
crate's tests check that the Rust feature extractor gives the same).

`--folds` writes OUT_DIR/toxicity-folds/fold{0..4}.bin instead: fold k is trained without the
bench file's (OUT_DIR/toxicity.jsonl) tune rows whose index among its tune rows is k modulo 5;
the crate's eval example (`--folds DIR`) scores each of those rows with the model that did not
see it, so thresholds and rule weights are picked on out-of-fold scores of the whole auditor.
`--cv` prints the same out-of-fold figures for the model alone.

The feature extractor below is the specification that guests/toxicity/src/model.rs follows
line by line: change one, change the other (the parity test catches a mismatch).

Deterministic: liblinear with a fixed seed on rows in file order; no other randomness.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[3]
MODEL_DIR = ROOT / "guests" / "toxicity" / "model"

BITS = 18                 # 2^18 buckets of one signed byte: 256 KiB of weights
MAX_TOKEN_CHARS = 24
NGRAMS = (3, 4, 5)
# Features are scaled by 1/sqrt(max(count, MIN_NORM)): a text of a few words ("Who are you?")
# carries little evidence either way, so its score stays near the prior instead of swinging on
# one word.
MIN_NORM = 64
C = 4.0                   # inverse L2 strength, picked by --cv on the tune split
MAGIC = b"LTOX"
VERSION = 1

# --- feature extraction (mirrored by guests/toxicity/src/model.rs) ------------------------

# Characters removed outright, so that "f\u200bu\u00adck" or "don't" read as one word.
DROPPED = {0x27, 0x2019, 0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}
# Non-ASCII characters that separate tokens (spaces, general and CJK punctuation).
SEPARATOR_RANGES = ((0x00A0, 0x00BF), (0x2000, 0x206F), (0x3000, 0x303F), (0xFE00, 0xFE0F))
# Look-alike digits and symbols inside words ("sh1t", "@ss", "0bama").
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}


def lower(c: str) -> str:
    if c < "\x80":
        return c.lower()
    low = c.lower()
    return low if len(low) == 1 else c


def is_token_char(c: str) -> bool:
    o = ord(c)
    if o < 0x80:
        return c.isalnum() or c in "*@$"
    return not any(lo <= o <= hi for lo, hi in SEPARATOR_RANGES)


def finish(chars: list[str]) -> str | None:
    # Mentions ("@user") and markdown emphasis ("**bold**") are not part of the word; a star
    # inside one ("f*ck") is a masked letter and stays.
    while chars and chars[0] in "@*":
        chars = chars[1:]
    while chars and chars[-1] == "*":
        chars = chars[:-1]
    if not chars:
        return None
    if all("0" <= c <= "9" for c in chars):
        return "0"
    if any(("a" <= c <= "z") or c >= "\x80" for c in chars):
        chars = [LEET.get(c, c) for c in chars]
    out: list[str] = []
    for c in chars:
        if len(out) >= 2 and out[-1] == c and out[-2] == c:
            continue
        out.append(c)
    return "".join(out[:MAX_TOKEN_CHARS])


def tokens(text: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for c in text:
        o = ord(c)
        if o in DROPPED:
            continue
        if 0xFF01 <= o <= 0xFF5E:  # fullwidth ASCII
            c = chr(o - 0xFEE0)
        if is_token_char(c):
            current.append(lower(c))
        elif current:
            tok = finish(current)
            if tok:
                out.append(tok)
            current = []
    if current:
        tok = finish(current)
        if tok:
            out.append(tok)
    return out


WINDOW = 64
STRIDE = 32


def windows(toks: list[str]) -> list[list[str]]:
    """Long texts are scored in overlapping windows (the text's score is the highest), so that
    one abusive sentence is not diluted by pages of benign text."""
    if len(toks) <= WINDOW:
        return [toks]
    out = []
    start = 0
    while True:
        out.append(toks[start:start + WINDOW])
        if start + WINDOW >= len(toks):
            return out
        start += STRIDE


def fnv1a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


# Function words give no word or character features of their own, only bigrams ("you idiot"):
# comment corpora's insults are short and in the second person, so on their own these words
# would teach the model that "Who are you?" is abuse.
STOPWORDS = frozenset("""
a about also am an and are as at be been being but by can could did do does down for from had
has have he her here hers him his how i if in into is it its just may me might mine must my
myself no not of on or our ours out over shall she should so than that the their them then
there these they this those to too u up ur us very was we were what when where which who whom
why will with would you your yours yourself yourselves
""".split())


def features(toks: list[str]) -> list[int]:
    mask = (1 << BITS) - 1
    out = []
    for i, tok in enumerate(toks):
        if i + 1 < len(toks):
            out.append(fnv1a(b"b\x01" + tok.encode() + b"\x01" + toks[i + 1].encode()) & mask)
        if tok in STOPWORDS:
            continue
        out.append(fnv1a(b"w\x01" + tok.encode()) & mask)
        chars = "<" + tok + ">"
        for n in NGRAMS:
            for j in range(len(chars) - n + 1):
                out.append(fnv1a(b"c\x01" + chars[j:j + n].encode()) & mask)
    return out


# --- training -----------------------------------------------------------------------------


def matrix(texts: list[str]) -> csr_matrix:
    data, indices, indptr = [], [], [0]
    for text in texts:
        feats = features(tokens(text))
        counts: dict[int, int] = {}
        for f in feats:
            counts[f] = counts.get(f, 0) + 1
        norm = 1.0 / math.sqrt(max(len(feats), MIN_NORM))
        for f, c in sorted(counts.items()):
            indices.append(f)
            data.append(c * norm)
        indptr.append(len(indices))
    return csr_matrix((np.array(data, dtype=np.float64), np.array(indices), np.array(indptr)),
                      shape=(len(texts), 1 << BITS))


def fit(x: csr_matrix, y: np.ndarray) -> LogisticRegression:
    model = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", random_state=0,
                               max_iter=1000)
    model.fit(x, y)
    return model


def quantise(model: LogisticRegression) -> tuple[float, float, np.ndarray]:
    w = model.coef_[0]
    scale = float(np.abs(w).max()) / 127.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return scale, float(model.intercept_[0]), q


def logit(q: np.ndarray, scale: float, bias: float, text: str) -> float:
    """The logit the component computes: the highest over the text's windows."""
    best = -math.inf
    for window in windows(tokens(text)):
        feats = features(window)
        if not feats:
            best = max(best, bias)
            continue
        s = sum(int(q[f]) for f in feats)
        best = max(best, bias + scale * s / math.sqrt(max(len(feats), MIN_NORM)))
    return best


def f1_at(scores: np.ndarray, y: np.ndarray, t: float) -> tuple[float, float, float]:
    pred = scores >= t
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def fold_models(train: list[dict], bench_tune: list[dict]):
    """The five models of the out-of-fold scheme (see the module doc)."""
    fold_of = {r["text"]: i % 5 for i, r in enumerate(bench_tune)}
    for k in range(5):
        rows = [r for r in train if fold_of.get(r["text"]) != k]
        model = fit(matrix([r["text"] for r in rows]), labels(rows))
        yield k, quantise(model)


def labels(rows: list[dict]) -> np.ndarray:
    return np.array([1 if r["labels"] else 0 for r in rows])


def cross_validate(train: list[dict], bench_tune: list[dict]) -> None:
    y = labels(bench_tune)
    probs = np.zeros(len(bench_tune))
    for k, (scale, bias, q) in fold_models(train, bench_tune):
        for i in range(k, len(bench_tune), 5):
            probs[i] = 1 / (1 + math.exp(-logit(q, scale, bias, bench_tune[i]["text"])))
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        p, r, f = f1_at(probs, y, t)
        print(f"threshold {t:.1f}: precision {p:.3f} recall {r:.3f} F1 {f:.3f}")
    for s in sorted({r["source"] for r in bench_tune}):
        m = np.array([r["source"] == s for r in bench_tune])
        p, r, f = f1_at(probs[m], y[m], 0.5)
        fp = int(np.sum((probs[m] >= 0.5) & (y[m] == 0)))
        print(f"  {s:<42} n={int(m.sum()):>5} precision {p:.3f} recall {r:.3f} F1 {f:.3f} FP {fp}")


PARITY_TEXTS = [
    "",
    "Hello there, how are you today?",
    "You are a complete 1d10t and everyone h4tes you!!!",
    "ＦＵＬＬＷＩＤＴＨ letters and zero\u200bwidth joins, don't split",
    "Ünïcödé — “quotes” and emoji 😀😀😀 and 日本語のテキスト",
    "@someone $$$ *** 12345 sooooo goooood",
    " ".join(f"word{i}" for i in range(150)),
]


def write_weights(path: Path, scale: float, bias: float, q: np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<BBHff", VERSION, BITS, 0, scale, bias))
        f.write(q.tobytes())


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: python train.py OUT_DIR [--cv | --folds]")
    out = Path(args[0])
    bench_tune = [r for r in read_jsonl(out / "toxicity.jsonl") if r["split"] == "tune"]
    train = [r for r in read_jsonl(out / "toxicity.train.jsonl") if r["split"] == "tune"]
    if "--cv" in sys.argv:
        cross_validate(train, bench_tune)
        return
    if "--folds" in sys.argv:
        folds_dir = out / "toxicity-folds"
        folds_dir.mkdir(parents=True, exist_ok=True)
        for k, weights in fold_models(train, bench_tune):
            write_weights(folds_dir / f"fold{k}.bin", *weights)
        print(f"5 fold models -> {folds_dir}")
        return
    model = fit(matrix([r["text"] for r in train]), labels(train))
    scale, bias, q = quantise(model)
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    write_weights(MODEL_DIR / "toxicity.bin", scale, bias, q)
    parity = [{"text": t, "logit": logit(q, scale, bias, t)} for t in PARITY_TEXTS]
    (MODEL_DIR / "parity.json").write_text(json.dumps(parity, ensure_ascii=False, indent=1) + "\n")
    nonzero = int(np.count_nonzero(q))
    print(f"trained on {len(train)} tune rows: {nonzero} non-zero weights of {len(q)}, "
          f"scale {scale:.6f}, bias {bias:.4f} -> {MODEL_DIR / 'toxicity.bin'}")


if __name__ == "__main__":
    main()
