#!/usr/bin/env python3
"""Trains the injection auditor's compact classifier from the `tune` split.

    python train.py OUT_DIR

reads OUT_DIR/injection.jsonl (written by extract.py), and writes guests/injection/model.bin.
The `heldout` rows are never read here.

1. Features come from the auditor's own code: `cargo run --example features` writes, for each
   row, the hashed word and character n-gram buckets of its canonical words and the risk the
   auditor's rules give it. Training and the component cannot disagree on features.
2. A logistic regression (scikit-learn, liblinear, L2) on binary features scaled to unit
   length; C is chosen by stratified 5-fold cross-validation on the tune split.
3. Calibration: the auditor reports `1 - (1 - rules) * (1 - model)` and detects at 0.7 by
   default. On the cross-validated (out-of-fold) probabilities, a shift of the model's logit is
   chosen so that this decision has the best F1 with precision at least PRECISION_FLOOR; the
   shift is folded into the stored bias.
4. The weights are stored as one signed byte per bucket with a common scale.

Deterministic: fixed folds (random_state), a deterministic solver, no sampling.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GUESTS = REPO / "guests"
MODEL = GUESTS / "injection" / "model.bin"

BITS = 17
THRESHOLD = 0.7
PRECISION_FLOOR = 0.97
C_GRID = [1.0, 10.0, 100.0]
MIN_FEATURES_GRID = [1, 300, 1000]
F1_TOLERANCE = 0.01


def features(out: Path) -> list[dict]:
    dump = out / "injection.features.jsonl"
    subprocess.run(
        ["cargo", "run", "--quiet", "--release", "--manifest-path", str(GUESTS / "Cargo.toml"),
         "-p", "injection", "--example", "features", "--",
         str(out / "injection.jsonl"), str(dump), str(BITS)],
        check=True,
    )
    rows = [json.loads(line) for line in dump.read_text().splitlines() if line.strip()]
    for index, row in enumerate(rows):
        row["index"] = index
    return [r for r in rows if r["split"] == "tune"]


def matrix(rows: list[dict], min_features: int) -> csr_matrix:
    indptr, indices, data = [0], [], []
    for r in rows:
        f = r["features"]
        value = 1.0 / math.sqrt(max(len(f), min_features)) if f else 0.0
        indices.extend(f)
        data.extend([value] * len(f))
        indptr.append(len(indices))
    return csr_matrix((np.array(data), np.array(indices), np.array(indptr)),
                      shape=(len(rows), 1 << BITS))


def fit(x, y, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", max_iter=1000).fit(x, y)


def scores(y, predicted) -> tuple[float, float, float]:
    tp = int(np.sum(predicted & y))
    fp = int(np.sum(predicted & ~y))
    fn = int(np.sum(~predicted & y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def decide(logits, rules, shift):
    learned = 1.0 / (1.0 + np.exp(-(logits + shift)))
    return 1.0 - (1.0 - rules) * (1.0 - learned) >= THRESHOLD


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python train.py OUT_DIR")
    rows = features(Path(sys.argv[1]))
    y = np.array([r["label"] for r in rows], dtype=bool)
    rules = np.array([r["rules"] for r in rows])
    print(f"tune rows: {len(rows)} ({int(y.sum())} injections)")

    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=18).split(rows, y))
    results = []
    for min_features in MIN_FEATURES_GRID:
        x = matrix(rows, min_features)
        for c in C_GRID:
            oof = np.zeros(len(rows))
            for train, test in folds:
                oof[test] = fit(x[train], y[train], c).decision_function(x[test])
            best = None
            for shift in np.arange(-6.0, 6.01, 0.1):
                p, r, f1 = scores(y, decide(oof, rules, shift))
                if p >= PRECISION_FLOOR and (best is None or f1 > best[0]):
                    best = (f1, c, float(shift), p, r, min_features, oof)
            if best:
                results.append(best)
                print(f"  min_features={min_features} C={c}: F1={best[0]:.3f} "
                      f"(precision {best[3]:.3f}, recall {best[4]:.3f}, shift {best[2]:+.1f})")
    if not results:
        sys.exit(f"no setting reaches precision {PRECISION_FLOOR} on the tune split")
    # The most conservative setting (short texts damped most, then the strongest
    # regularisation) whose F1 is within F1_TOLERANCE of the best: the cross-validation folds
    # are drawn from the same few sources, so its small differences say less than the
    # look-alike benign prompts that a confident model on short texts gets wrong.
    top = max(res[0] for res in results)
    best = max((res for res in results if res[0] >= top - F1_TOLERANCE),
               key=lambda res: (res[5], -res[1]))
    f1, c, shift, p, r, min_features, oof = best
    print(f"cross-validated on tune: min_features={min_features} C={c} shift={shift:+.1f} "
          f"precision={p:.3f} recall={r:.3f} F1={f1:.3f}")
    # The cross-validated decisions on the tune split, for error analysis (never the heldout).
    predicted = decide(oof, rules, shift)
    with open(Path(sys.argv[1]) / "injection.tune-errors.tsv", "w") as f:
        for row, truth, guess, logit in zip(rows, y, predicted, oof):
            if truth != guess:
                f.write(f"{'FN' if truth else 'FP'}\t{row['index']}\t{row['source']}\t"
                        f"{row['rules']:.2f}\t{logit + shift:+.2f}\n")

    x = matrix(rows, min_features)
    model = fit(x, y, c)
    weights = model.coef_[0]
    bias = float(model.intercept_[0]) + shift
    scale = float(np.abs(weights).max()) / 127.0 or 1.0
    quantized = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
    MODEL.write_bytes(b"LIM2" + struct.pack("<IffI", BITS, scale, bias, min_features)
                      + quantized.tobytes())
    used = int(np.count_nonzero(quantized))
    print(f"wrote {MODEL} ({MODEL.stat().st_size} bytes, {used} non-zero weights, "
          f"scale {scale:.5f}, bias {bias:+.3f})")


if __name__ == "__main__":
    main()
