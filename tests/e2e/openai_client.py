#!/usr/bin/env python3
"""Drive a running `lucid serve` gateway with the official `openai` Python package.

Usage: openai_client.py BASE_URL MODE

BASE_URL is the gateway's root (http://ADDR, without /v1); MODE is the streaming mode the gateway
was started with (buffer, observe or incremental). Every check that fails exits non-zero with a
message on stderr; on success one JSON summary line is printed on stdout.
"""

import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import openai

LUCID_HEADERS = (
    "x-lucid-ar-hash",
    "x-lucid-chain-depth",
    "x-lucid-claims-hash",
    "x-lucid-cedar-decision",
    "x-lucid-cedar-policy-hash",
    "x-lucid-request-id",
)
MODES = ("buffer", "observe", "incremental")
ECHO = "a streamed answer that is long enough to be audited twice"


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def lucid_headers(headers, what, names=LUCID_HEADERS):
    got = {}
    for name in names:
        value = headers.get(name)
        check(value, f"{what}: no {name} header in {dict(headers)}")
        got[name] = value
    return got


def stream_headers(headers, what, mode):
    """A buffered stream is judged before its headers go out, so it carries the whole set; an
    observed or incremental one starts before the answer is judged and names only the request
    and the policy set (its receipt is the trailing comment)."""
    if mode == "buffer":
        got = lucid_headers(headers, what)
        check(
            got["x-lucid-cedar-decision"] == "allow",
            f"{what}: decision {got['x-lucid-cedar-decision']!r}, expected allow",
        )
        return got
    return lucid_headers(headers, what, ("x-lucid-request-id", "x-lucid-cedar-policy-hash"))


def admin_get(base, path):
    url = base + path
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            status = resp.status
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise CheckFailed(f"GET {path}: HTTP {e.code}: {e.read().decode(errors='replace')}")
    check(status == 200, f"GET {path}: HTTP {status}: {text}")
    try:
        return json.loads(text)
    except ValueError:
        raise CheckFailed(f"GET {path}: not JSON: {text!r}")


def ars_for_request(base, request_id):
    query = urllib.parse.urlencode({"request_id": request_id})
    found = admin_get(base, f"/v1/evidence?{query}")
    ars = found.get("ars")
    check(isinstance(ars, list) and ars, f"no AR for request {request_id}: {found}")
    return ars


def commitment(salt_hex, data):
    return hashlib.sha256(bytes.fromhex(salt_hex) + data).hexdigest()


def check_content(ar, salt, request_bytes, response_bytes, what, stream_mode=None, cut=False):
    """The AR's content commitments, recomputed from the bytes this client sent and got and
    the salt it was given: SHA-256(salt || bytes)."""
    check(salt and len(salt) == 64, f"{what}: no content salt ({salt!r})")
    content = ar.get("content")
    check(isinstance(content, dict), f"{what}: the AR has no content binding: {ar}")
    check(content.get("commitment") == "sha256(salt||bytes)", f"{what}: scheme in {content}")
    check(
        content.get("request") == commitment(salt, request_bytes),
        f"{what}: the request commitment does not match the {len(request_bytes)} bytes sent",
    )
    check(
        content.get("response") == commitment(salt, response_bytes),
        f"{what}: the response commitment does not match the {len(response_bytes)} bytes got",
    )
    check(content.get("response_bytes") == len(response_bytes), f"{what}: size in {content}")
    check(content.get("stream") == (stream_mode is not None), f"{what}: stream in {content}")
    check(content.get("stream_mode") == stream_mode, f"{what}: stream_mode in {content}")
    check(content.get("cut") is cut, f"{what}: cut in {content}")
    # Someone without the salt cannot tie the AR to the bytes.
    check(
        content.get("response") != hashlib.sha256(response_bytes).hexdigest(),
        f"{what}: the commitment is not salted",
    )


def plain(client, base):
    question = "What is the capital of France?"
    raw = client.chat.completions.with_raw_response.create(
        model="mock-1",
        messages=[{"role": "user", "content": question}],
    )
    check(raw.status_code == 200, f"plain: HTTP {raw.status_code}")
    headers = lucid_headers(raw.headers, "plain")
    check(
        headers["x-lucid-cedar-decision"] == "allow",
        f"plain: decision {headers['x-lucid-cedar-decision']!r}, expected allow",
    )
    completion = raw.parse()
    content = completion.choices[0].message.content
    check(
        content == f"Mock answer to: {question}",
        f"plain: unexpected content {content!r}",
    )
    ar = ars_for_request(base, raw.headers.get("x-lucid-request-id"))[0]
    check_content(
        ar,
        raw.headers.get("x-lucid-content-salt"),
        raw.http_request.content,
        raw.http_response.content,
        "plain",
    )
    return headers


def denied(client, base, content, what):
    try:
        client.chat.completions.create(
            model="mock-1",
            messages=[{"role": "user", "content": content}],
        )
    except openai.PermissionDeniedError as e:
        check(e.status_code == 403, f"{what}: status {e.status_code}, expected 403")
        body = e.body
        # The SDK unwraps {"error": {...}}; accept the wrapped form too.
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body = body["error"]
        check(isinstance(body, dict), f"{what}: error body is not an object: {body!r}")
        check(body.get("type") == "policy_denied", f"{what}: error type in {body}")
        check(body.get("code") == "lucid_policy_denied", f"{what}: error code in {body}")
        check(body.get("message"), f"{what}: no error message in {body}")
        decision = e.response.headers.get("x-lucid-cedar-decision")
        check(decision == "deny", f"{what}: x-lucid-cedar-decision {decision!r}, expected deny")
        ar_hash = e.response.headers.get("x-lucid-ar-hash")
        check(ar_hash, f"{what}: no x-lucid-ar-hash on the denial")
        ar = ars_for_request(base, e.response.headers.get("x-lucid-request-id"))[0]
        check_content(
            ar,
            e.response.headers.get("x-lucid-content-salt"),
            e.response.request.content,
            e.response.content,
            what,
        )
        return ar_hash
    except openai.APIStatusError as e:
        raise CheckFailed(f"{what}: expected a 403, got HTTP {e.status_code}: {e.body}")
    raise CheckFailed(f"{what}: the request was answered instead of denied")


def stream_sdk(client, base, mode):
    """The SDK's own stream: the joined deltas, and the receipt looked up by request id."""
    stream = client.chat.completions.create(
        model="mock-1",
        messages=[{"role": "user", "content": f"echo: {ECHO}"}],
        stream=True,
    )
    headers = stream_headers(stream.response.headers, f"stream ({mode})", mode)
    text = ""
    chunks = 0
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    check(chunks > 0, f"stream ({mode}): no chunks")
    check(text == ECHO, f"stream ({mode}): joined content {text!r}, expected {ECHO!r}")
    ar = ars_for_request(base, headers["x-lucid-request-id"])[0]
    check(
        ar.get("stream_mode") == mode,
        f"stream ({mode}): AR stream_mode {ar.get('stream_mode')!r}",
    )
    check(ar.get("decision") == "allow", f"stream ({mode}): AR decision {ar.get('decision')!r}")
    return ar, chunks


def stream_raw(client, base, mode):
    """The raw SSE lines (the SDK drops comments): the receipt comment comes before [DONE]."""
    with client.chat.completions.with_streaming_response.create(
        model="mock-1",
        messages=[{"role": "user", "content": f"echo: {ECHO}"}],
        stream=True,
    ) as resp:
        check(resp.status_code == 200, f"raw stream ({mode}): HTTP {resp.status_code}")
        content_type = resp.headers.get("content-type", "")
        check(
            content_type.startswith("text/event-stream"),
            f"raw stream ({mode}): content-type {content_type!r}",
        )
        headers = stream_headers(resp.headers, f"raw stream ({mode})", mode)
        body = b"".join(resp.iter_bytes())
        request_bytes = resp.http_request.content
    lines = [line for line in body.decode().split("\n") if line]
    salt = None
    receipt = None
    done = False
    text = ""
    for line in lines:
        if line.startswith(": lucid-content-salt "):
            salt = line[len(": lucid-content-salt "):]
        elif line.startswith(": lucid-receipt "):
            check(not done, f"raw stream ({mode}): the receipt comes after [DONE]")
            receipt = json.loads(line[len(": lucid-receipt "):])
        elif line == "data: [DONE]":
            done = True
        elif line.startswith("data: "):
            check(not done, f"raw stream ({mode}): data after [DONE]")
            chunk = json.loads(line[len("data: "):])
            for choice in chunk.get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
    check(done, f"raw stream ({mode}): no data: [DONE] in {lines}")
    check(receipt is not None, f"raw stream ({mode}): no lucid-receipt comment in {lines}")
    check(text == ECHO, f"raw stream ({mode}): joined content {text!r}")
    check(
        receipt.get("stream_mode") == mode,
        f"raw stream ({mode}): receipt stream_mode {receipt.get('stream_mode')!r}",
    )
    check(receipt.get("decision") == "allow", f"raw stream ({mode}): receipt decision")
    if mode == "buffer":
        # Buffered streams are judged before the first byte, so the headers name the receipt.
        check(
            headers["x-lucid-ar-hash"] == receipt.get("ar_hash"),
            f"raw stream ({mode}): x-lucid-ar-hash {headers['x-lucid-ar-hash']} "
            f"!= receipt {receipt.get('ar_hash')}",
        )
    ar = ars_for_request(base, headers["x-lucid-request-id"])[0]
    check(
        ar.get("ar_hash") == receipt.get("ar_hash"),
        f"raw stream ({mode}): stored AR {ar.get('ar_hash')} != receipt {receipt.get('ar_hash')}",
    )
    # The response commitment covers the events before the receipt comment, the first comment.
    check(
        salt == resp.headers.get("x-lucid-content-salt"),
        f"raw stream ({mode}): the salt comment {salt!r} differs from the header",
    )
    delivered = body[: body.index(b"\n: lucid-") + 1]
    check_content(receipt, salt, request_bytes, delivered, f"raw stream ({mode})", stream_mode=mode)
    return receipt


def main(argv):
    if len(argv) != 3 or argv[2] not in MODES:
        print(f"usage: {argv[0]} BASE_URL buffer|observe|incremental", file=sys.stderr)
        return 2
    base, mode = argv[1].rstrip("/"), argv[2]
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0, timeout=60)

    plain_headers = plain(client, base)
    denied_ar = denied(client, base, "my card is 4111 1111 1111 1111, please store it", "denied")
    leak_ar = denied(client, base, "mock:leak", "response-phase denial")
    stream_ar, chunks = stream_sdk(client, base, mode)
    receipt = stream_raw(client, base, mode)

    last = receipt["ar_hash"]
    chain = admin_get(base, f"/v1/attestation-chain/{last}")
    check(chain.get("valid") is True, f"chain from {last} is not valid: {chain}")
    # Five exchanges were made here (the denials have receipts too), all on the chain.
    length = chain.get("length")
    check(isinstance(length, int) and length >= 5, f"chain from {last} too short: {chain}")

    print(
        json.dumps(
            {
                "ok": True,
                "openai": openai.__version__,
                "mode": mode,
                "plain_ar_hash": plain_headers["x-lucid-ar-hash"],
                "chain_depth": plain_headers["x-lucid-chain-depth"],
                "denied_ar_hash": denied_ar,
                "leak_ar_hash": leak_ar,
                "stream_ar_hash": stream_ar.get("ar_hash"),
                "stream_chunks": chunks,
                "receipt_ar_hash": last,
                "chain_valid": chain.get("valid"),
                "chain_length": chain.get("length"),
            }
        )
    )
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
