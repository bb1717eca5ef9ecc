#!/usr/bin/env python3
"""Masking through the official `openai` Python package, against a running `lucid serve`.

Usage: openai_redact.py BASE_URL CHECK

CHECK is `request` (a gateway on the balanced preset: a prompt's e-mail reaches the model
masked) or one of `buffer`, `observe`, `incremental` (a gateway whose policy also masks e-mail
addresses and phone numbers in answers, in that streaming mode: a leaking answer is masked as a
JSON answer and as a stream). Every byte the client gets is searched for the values that must be
masked. Failures exit non-zero with a message on stderr; on success one JSON line is printed.
"""

import hashlib
import json
import sys
import urllib.parse
import urllib.request

import openai

EMAIL = "jane.doe@example.com"
PHONE = "415 555 0100"


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def admin_get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as resp:
        return json.loads(resp.read().decode())


def ar_for(base, request_id):
    query = urllib.parse.urlencode({"request_id": request_id})
    ars = admin_get(base, f"/v1/evidence?{query}").get("ars")
    check(isinstance(ars, list) and ars, f"no AR for request {request_id}")
    return ars[0]


def commitment(salt_hex, data):
    return hashlib.sha256(bytes.fromhex(salt_hex) + data).hexdigest()


def redactions(ar, phase, what):
    found = [r for r in ar.get("redactions", []) if r.get("phase") == phase]
    check(len(found) == 1, f"{what}: expected one {phase} redaction record in {ar.get('redactions')}")
    record = found[0]
    check(record.get("commitment") == "sha256(salt||bytes)", f"{what}: scheme in {record}")
    check(isinstance(record.get("after"), str), f"{what}: no after commitment in {record}")
    if phase == "request":
        check(record.get("before") != record.get("after"), f"{what}: before == after in {record}")
    else:
        # The client holds the salt: a commitment to the unmasked answer would let it test
        # guesses of the masked values.
        check(record.get("before") is None, f"{what}: the unmasked answer is committed to")
    return record


def no_secret(data, values, what):
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    for value in values:
        check(value not in text, f"{what}: {value!r} reached the client: {text[:400]!r}")


def request_check(client, base):
    """The issue's example: with the balanced preset, an e-mail in the prompt is masked before
    the model sees it (the mock echoes what it got) and the receipt records one email span."""
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1",
        messages=[{"role": "user", "content": "echo: my mail is bob@example.com"}],
    )
    check(raw.status_code == 200, f"request: HTTP {raw.status_code}")
    content = raw.parse().choices[0].message.content
    check(content == "my mail is [EMAIL]", f"request: the model saw {content!r}")
    check(raw.headers.get("x-lucid-redactions") == "1", f"request: x-lucid-redactions {raw.headers.get('x-lucid-redactions')!r}")
    check(raw.headers.get("x-lucid-cedar-decision") == "allow", "request: not allowed")
    ar = ar_for(base, raw.headers.get("x-lucid-request-id"))
    record = redactions(ar, "request", "request")
    spans = record.get("spans")
    check(isinstance(spans, list) and len(spans) == 1, f"request: spans {spans}")
    span = spans[0]
    check(span.get("kinds") == ["email"], f"request: kinds {span}")
    check(span.get("auditors") == ["pii"], f"request: auditors {span}")
    check(span.get("policies") == ["balanced.mask-personal-data"], f"request: policies {span}")
    check(span.get("field") == "/messages/0/content", f"request: field {span}")
    check((span.get("start"), span.get("end")) == (17, 32), f"request: range {span}")
    no_secret(json.dumps(ar), ["bob@example.com"], "request: the AR")
    # The content binding still commits to exactly what the client sent and got.
    salt = raw.headers.get("x-lucid-content-salt")
    check(ar["content"]["request"] == commitment(salt, raw.http_request.content), "request: request commitment")
    check(ar["content"]["response"] == commitment(salt, raw.http_response.content), "request: response commitment")
    request_phase = [p for p in ar["phases"] if p["phase"] == "request"][0]
    check(request_phase["decision"].get("redact"), f"request: no redact in {request_phase['decision']}")

    # Deny wins over mask: a card and an e-mail together are refused.
    try:
        client.chat.completions.create(
            model="mock-1",
            messages=[{"role": "user", "content": "card 4111 1111 1111 1111, mail bob@example.com"}],
        )
        raise CheckFailed("request: a card with an e-mail was answered")
    except openai.PermissionDeniedError as e:
        check("balanced.deny-credit-card" in str(e.body), f"request: deny reasons {e.body}")
    return {"request_ar": ar["ar_hash"]}


def answer_json(client, base):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1",
        messages=[{"role": "user", "content": "mock:leak-contact"}],
    )
    check(raw.status_code == 200, f"json answer: HTTP {raw.status_code}")
    no_secret(raw.http_response.content, [EMAIL, PHONE], "json answer")
    content = raw.parse().choices[0].message.content
    check("[EMAIL]" in content and "[PHONE]" in content, f"json answer: {content!r}")
    check(raw.headers.get("x-lucid-redactions") == "2", f"json answer: x-lucid-redactions {raw.headers.get('x-lucid-redactions')!r}")
    ar = ar_for(base, raw.headers.get("x-lucid-request-id"))
    record = redactions(ar, "response", "json answer")
    kinds = sorted(k for s in record["spans"] for k in s["kinds"])
    check(kinds == ["email", "phone"], f"json answer: kinds {kinds}")
    check(record["spans"][0]["field"] == "/choices/0/message/content", f"json answer: {record}")
    return ar["ar_hash"]


def answer_stream(client, base, mode):
    with client.chat.completions.with_streaming_response.create(
        model="mock-1",
        messages=[{"role": "user", "content": "mock:leak-contact"}],
        stream=True,
    ) as resp:
        check(resp.status_code == 200, f"stream ({mode}): HTTP {resp.status_code}")
        body = b"".join(resp.iter_bytes())
        request_id = resp.headers.get("x-lucid-request-id")
    # Not one byte of the stream carries a value the policy masks.
    no_secret(body, [EMAIL, PHONE, "jane.doe", "0100"], f"stream ({mode})")
    text = ""
    receipt = None
    for line in body.decode().split("\n"):
        if line.startswith(": lucid-receipt "):
            receipt = json.loads(line[len(": lucid-receipt "):])
        elif line.startswith("data: ") and line != "data: [DONE]":
            chunk = json.loads(line[len("data: "):])
            check("error" not in chunk, f"stream ({mode}): error event {chunk}")
            for choice in chunk.get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
    check("[EMAIL]" in text and "[PHONE]" in text, f"stream ({mode}): joined {text!r}")
    check(text.startswith("You can reach Jane Doe at [EMAIL]"), f"stream ({mode}): joined {text!r}")
    check(receipt is not None, f"stream ({mode}): no receipt")
    check(receipt.get("decision") == "allow", f"stream ({mode}): decision {receipt.get('decision')}")
    expected_mode = "incremental" if mode == "observe" else mode
    check(receipt.get("stream_mode") == expected_mode, f"stream ({mode}): stream_mode {receipt.get('stream_mode')}")
    if mode == "observe":
        check(receipt.get("stream_mode_requested") == "observe", f"stream ({mode}): {receipt.get('stream_mode_requested')}")
    record = redactions(receipt, "response", f"stream ({mode})")
    kinds = sorted(k for s in record["spans"] for k in s["kinds"])
    check(kinds == ["email", "phone"], f"stream ({mode}): kinds {kinds}")
    check(ar_for(base, request_id)["ar_hash"] == receipt["ar_hash"], f"stream ({mode}): stored AR")

    # The SDK's own iterator sees the same masked text.
    stream = client.chat.completions.create(
        model="mock-1",
        messages=[{"role": "user", "content": "mock:leak-contact"}],
        stream=True,
    )
    joined = "".join(
        c.choices[0].delta.content or "" for c in stream if c.choices
    )
    check(joined == text, f"stream ({mode}): SDK joined {joined!r} != raw {text!r}")

    # A prompt's e-mail is masked before the model sees it, streamed too.
    stream = client.chat.completions.create(
        model="mock-1",
        messages=[{"role": "user", "content": "echo: write to bob@example.com today"}],
        stream=True,
    )
    echoed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    check(echoed == "write to [EMAIL] today", f"stream ({mode}): echoed {echoed!r}")
    return receipt["ar_hash"]


def main(argv):
    if len(argv) != 3 or argv[2] not in ("request", "buffer", "observe", "incremental"):
        print(f"usage: {argv[0]} BASE_URL request|buffer|observe|incremental", file=sys.stderr)
        return 2
    base, what = argv[1].rstrip("/"), argv[2]
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0, timeout=60)
    if what == "request":
        summary = request_check(client, base)
    else:
        summary = {"json_ar": answer_json(client, base), "stream_ar": answer_stream(client, base, what)}
    summary.update({"ok": True, "check": what})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except openai.APIError as e:
        print(f"FAILED: unexpected API error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
