"""Write Lucid auditors in Python.

An auditor is a WebAssembly component of the ``lucid:auditor@0.2.0`` world
(``wit/auditor/auditor.wit``). With this module it is a class::

    from typing import Annotated
    from lucid_auditor import ClaimsAuditor, Claim, Input, claims, export

    class Shout(ClaimsAuditor):
        \"\"\"Flags prompts written in capitals.\"\"\"   # the vocabulary's description
        id = "shout"                                   # [a-z][a-z0-9_-]{0,63}
        version = "0.1.0"

        @claims(phase="request", emits={"shouting": ("boolean", "a message is all capitals")})
        def request(self, input: Input, *,
                    min_letters: Annotated[int, "letters needed to judge"] = 3) -> list[Claim]:
            loud = any(t.isupper() and len(t) >= min_letters for t in input.texts())
            return [Claim("shouting", "boolean", loud)]

    Auditor = export(Shout)    # the class componentize-py exports

- ``@claims(phase=..., emits=...)`` marks the method called in that phase (or phases) and
  declares the claims it may return: ``{name: type}`` or ``{name: (type, description)}``.
- Settings are the method's keyword-only parameters with defaults: ``bool`` -> boolean,
  ``int`` -> count, ``float`` -> number, ``str`` -> string, ``list[str]``/``tuple`` ->
  string_list; ``Annotated[T, "description"]`` describes them. The method gets the effective
  values (the host's configuration, per scope) as keyword arguments.
- Everything is checked when the class is created, so a bad declaration fails at import.
- ``run(Shout, "request", {...})`` calls the auditor in plain CPython, for unit tests.

This file is self-contained (standard library only) and imports the component bindings
(``wit_world``) only inside :func:`export`. In the component, every module is imported when it
is built (there is no file system at call time): import what you need at the top of your file.
"""

import collections
import collections.abc
import inspect
import json
import math
import re
import sys
import typing

try:  # Python 3.14+ evaluates annotations lazily (the component's CPython is 3.14)
    import annotationlib
except ImportError:
    annotationlib = None

__all__ = [
    "CLAIM_TYPES",
    "MAX_SAFE_INTEGER",
    "MAX_SPANS_PER_CLAIM",
    "PHASES",
    "SETTING_TYPES",
    "Claim",
    "ClaimsAuditor",
    "ContractError",
    "Input",
    "InvalidInput",
    "Message",
    "Scope",
    "Span",
    "ToolCall",
    "claims",
    "export",
    "run",
]

#: The phases of an exchange, in the order they happen.
PHASES = ("artifact", "request", "execution", "response")
#: The seven claim types.
CLAIM_TYPES = (
    "score_normalized",
    "boolean",
    "string",
    "string_list",
    "count",
    "duration_ms",
    "object",
)
#: The setting types.
SETTING_TYPES = ("boolean", "count", "number", "string", "string_list")

#: Counts, durations and integers in JSON values stay within +-(2**53 - 1): receipts carry them.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_SPANS_PER_CLAIM = 4096
_MAX_JSON_DEPTH = 64
_MAX_TEXT_BYTES = 4096
_MAX_CLAIMS = 1024
_MAX_SETTINGS = 256

_ID = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_CLAIM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,127}")
_SETTING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_KIND = re.compile(r"[a-z0-9_]{1,32}")
_LABEL = re.compile(r"\[[A-Z0-9_\- ]+\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class InvalidInput(ValueError):
    """The observation cannot be understood (say, a request that is not JSON).

    The SDK raises it for malformed bodies before your method runs; raise it yourself for input
    your auditor cannot make sense of. The host receives ``auditor-error.invalid-input``; any
    other exception becomes ``auditor-error.failed``.
    """


class ContractError(Exception):
    """An auditor returned claims its vocabulary does not allow (undeclared name, wrong type or
    phase, a claim twice, spans outside the text). The host would refuse them too."""


# ---------------------------------------------------------------------------------------------
# Claims and spans


class Span:
    """A piece of the observed text a claim is about, which a policy's ``@redact`` rule may ask
    the gateway to mask.

    ``field`` is an RFC 6901 pointer into the observed request (request phase) or response
    (response phase), e.g. ``/messages/1/content``; ``start`` and ``end`` are UTF-8 byte
    offsets into that string. Build spans with :meth:`Input.message_spans` and friends, which
    take Python string indices and do the addressing for you. ``kind`` is ``[a-z0-9_]{1,32}``;
    ``label`` (what to write instead) is like ``[EMAIL]``, or None for the host's default.
    """

    __slots__ = ("field", "start", "end", "kind", "label")

    def __init__(self, field, start, end, kind, label=None):
        if (
            not isinstance(field, str)
            or not field.startswith("/")
            or len(field.encode("utf-8", "surrogatepass")) > 256
            or _CONTROL.search(field)
        ):
            raise ValueError(
                f"span field {field!r} is not a JSON pointer (expected '/...', at most 256 bytes)"
            )
        if not _is_int(start) or not _is_int(end) or not 0 <= start < end <= 0xFFFFFFFF:
            raise ValueError(
                f"span {start!r}..{end!r} is not a byte range (expected integers 0 <= start < end)"
            )
        _check_kind(kind)
        _check_label(label)
        self.field = field
        self.start = start
        self.end = end
        self.kind = kind
        self.label = label

    def __eq__(self, other):
        return isinstance(other, Span) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        label = "" if self.label is None else f", {self.label!r}"
        return f"Span({self.field!r}, {self.start}, {self.end}, {self.kind!r}{label})"

    def _key(self):
        return (self.field, self.start, self.end, self.kind, self.label)


class Claim:
    """One observation about an exchange.

    ``type`` is one of :data:`CLAIM_TYPES` and must be the type the vocabulary declares for
    ``name``. The value is checked against it: a score is a number in 0..1, a count or a
    duration an ``int`` in 0..2**53-1 (``True`` is not a count), a string list a list of
    ``str``, an object a ``dict`` or ``list`` (sent as JSON text). ``confidence`` is in 0..1;
    ``metadata`` is any JSON value (usually a dict), sent as JSON text: it ends up in receipts,
    so never put the sensitive text itself there. ``spans``: see :class:`Span`.
    """

    __slots__ = ("name", "type", "value", "confidence", "metadata", "spans", "_value_json",
                 "_metadata_json")

    def __init__(self, name, type, value, confidence=1.0, metadata=None, spans=()):
        if not isinstance(name, str) or not _CLAIM_NAME.fullmatch(name):
            raise ValueError(
                f"claim name {name!r} is invalid: expected 1-128 letters, digits, '_' and '.', "
                "starting with a letter"
            )
        if type not in CLAIM_TYPES:
            raise ValueError(
                f"claim '{name}' has unknown type {type!r}; expected one of {', '.join(CLAIM_TYPES)}"
            )
        self.name = name
        self.type = type
        self.value, self._value_json = _claim_value(name, type, value)
        if not _is_number(confidence) or not 0.0 <= confidence <= 1.0:
            raise ValueError(f"claim '{name}' has confidence {confidence!r}; expected 0.0 to 1.0")
        self.confidence = float(confidence)
        self.metadata = metadata
        self._metadata_json = (
            None if metadata is None else _json_text(f"metadata of claim '{name}'", metadata)
        )
        if isinstance(spans, Span):
            spans = [spans]
        spans = list(spans)
        for span in spans:
            if not isinstance(span, Span):
                raise TypeError(f"claim '{name}' has a span that is not a Span: {span!r}")
        if len(spans) > MAX_SPANS_PER_CLAIM:
            raise ValueError(
                f"claim '{name}' has {len(spans)} spans, more than {MAX_SPANS_PER_CLAIM}"
            )
        self.spans = spans

    def __eq__(self, other):
        return isinstance(other, Claim) and self._key() == other._key()

    def __repr__(self):
        extra = ""
        if self.confidence != 1.0:
            extra += f", confidence={self.confidence!r}"
        if self.metadata is not None:
            extra += f", metadata={self.metadata!r}"
        if self.spans:
            extra += f", spans={self.spans!r}"
        return f"Claim({self.name!r}, {self.type!r}, {self.value!r}{extra})"

    def _key(self):
        return (self.name, self.type, self.value, self.confidence, self._metadata_json, self.spans)


def _claim_value(name, kind, value):
    """The checked value and, for objects, its JSON text."""
    what = f"claim '{name}' ({kind})"
    if kind == "score_normalized":
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{what} has value {value!r}; expected a number in 0.0..1.0")
        return float(value), None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{what} has value {value!r}; expected True or False")
        return value, None
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"{what} has value {value!r}; expected a str")
        return value, None
    if kind == "string_list":
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{what} has value {value!r}; expected a list of str")
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"{what} holds {item!r}; expected only str")
        return list(value), None
    if kind in ("count", "duration_ms"):
        if not _is_int(value) or not 0 <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"{what} has value {value!r}; expected an int in 0..2**53-1")
        return int(value), None
    # object
    if not isinstance(value, (dict, list)):
        raise ValueError(f"{what} has value {value!r}; expected a dict or a list")
    return value, _json_text(f"value of {what}", value)


def _json_text(what, value):
    """``value`` as compact JSON text, refused where the host would refuse it."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            if _is_int(item) and abs(item) > MAX_SAFE_INTEGER:
                raise ValueError(f"{what} holds the integer {item}, outside +-(2**53-1)")
            continue
        if depth > _MAX_JSON_DEPTH:
            raise ValueError(f"{what} is nested deeper than {_MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} is not JSON: {error}") from None


# ---------------------------------------------------------------------------------------------
# The observation


#: Who sent the exchange: org -> workspace -> agent (empty strings in the artifact phase).
Scope = collections.namedtuple("Scope", "org workspace agent", defaults=("", "", ""))


class Message:
    """One request message. ``content`` is its text: a string, or the text parts of an array
    of parts joined with ``\\n`` (images and other parts skipped). ``role`` is as written
    (``""`` when missing); ``index`` is its position in ``request["messages"]``."""

    __slots__ = ("role", "content", "name", "index", "_segments", "_utf8")

    def __init__(self, role, content, name, index, segments):
        self.role = role
        self.content = content
        self.name = name
        self.index = index
        self._segments = segments
        self._utf8 = None

    @property
    def untrusted(self):
        """Written by someone other than the operator or the model (users, tool results):
        where prompt injections arrive."""
        return self.role in ("user", "tool", "function")

    def __repr__(self):
        return f"Message(role={self.role!r}, content={_short(self.content)!r}, index={self.index})"


class ToolCall:
    """A function call the model made (``origin == "request"``: in ``messages[index]``) or
    wants to make now (``origin == "response"``: in ``choices[index].message``). ``arguments``
    is text (normally JSON; an object given inline is serialised)."""

    __slots__ = ("id", "name", "arguments", "origin", "index", "_pointer", "_utf8")

    def __init__(self, id, name, arguments, origin, index, pointer):
        self.id = id
        self.name = name
        self.arguments = arguments
        self.origin = origin
        self.index = index
        self._pointer = pointer
        self._utf8 = None

    def __repr__(self):
        return (
            f"ToolCall(name={self.name!r}, arguments={_short(self.arguments)!r}, "
            f"origin={self.origin!r}, index={self.index})"
        )


class Input:
    """What an auditor observes in one phase of one exchange, parsed.

    ``request``/``response`` are given as JSON text (as the host sends them) or as dicts. A body
    that is not a JSON object (or whose ``messages`` is not a list of objects) raises
    :class:`InvalidInput`. In the artifact phase the request may be empty (``{}``).

    Attributes: ``phase``, ``request_id``, ``scope`` (:class:`Scope`), ``request`` (dict),
    ``response`` (dict or None), ``artifacts`` (the artifact descriptor in the artifact phase,
    the exchange context ``{"headers": {...}}`` in the others, or None), ``headers`` (the
    request's ``x-lucid-*`` headers, lowercase names; empty in the artifact phase), ``settings``
    (every declared setting's effective value), ``messages``, ``tool_calls`` (from the request
    history, then the response) and ``response_text`` (the choices' text joined with ``\\n``;
    None without a response).
    """

    def __init__(self, phase, request, response=None, artifacts=None, *, request_id="",
                 scope=None, settings=None):
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
        self.phase = phase
        self.request_id = request_id
        if scope is None:
            scope = Scope()
        self.scope = Scope(**scope) if isinstance(scope, dict) else Scope(*scope)
        self.settings = dict(settings or {})
        if phase == "artifact" and (request is None or (isinstance(request, str)
                                                        and not request.strip())):
            request = {}
        self.request = _object("request", request, "a chat-completions request")
        self.messages, self.tool_calls = _parse_messages(self.request)
        self.response = None
        self.response_text = None
        self._response_segments = []
        self._response_utf8 = None
        if response is not None:
            self.response = _object("response", response, "a chat completion")
            self._parse_response()
        self.artifacts = _json("artifacts", artifacts) if isinstance(artifacts, str) else artifacts
        self.headers = {}
        context = self.artifacts if phase != "artifact" else None
        headers = context.get("headers") if isinstance(context, dict) else None
        if isinstance(headers, dict):
            self.headers = {
                name.lower(): value for name, value in headers.items() if isinstance(value, str)
            }

    def header(self, name):
        """A request header passed as exchange context (``x-lucid-*`` only), by
        case-insensitive name; None when absent (always in the artifact phase)."""
        return self.headers.get(name.lower())

    def texts(self, phase=None):
        """The non-empty texts to scan in ``phase`` (default: this phase): every message's
        content in the request phase, tool-call arguments in the execution phase, the response
        text in the response phase, nothing in the artifact phase."""
        phase = self.phase if phase is None else phase
        if phase == "request":
            texts = [message.content for message in self.messages]
        elif phase == "execution":
            texts = [call.arguments for call in self.tool_calls]
        elif phase == "response":
            texts = [self.response_text or ""]
        elif phase == "artifact":
            texts = []
        else:
            raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}")
        return [text for text in texts if text]

    def message_spans(self, index, start, end, kind, label=None):
        """Spans of ``messages[index].content[start:end]`` (Python string indices), addressed
        in the request the host will mask: one per text part the range touches (the ``\\n``
        joining parts belongs to none). Empty when the message or range does not exist."""
        _check_names(kind, label)
        if type(index) is not int or not 0 <= index < len(self.messages):
            return []
        message = self.messages[index]
        if message._utf8 is None:
            message._utf8 = _Utf8(message.content, message._segments)
        return _spans(message.content, message._segments, message._utf8, start, end, kind, label)

    def response_spans(self, start, end, kind, label=None):
        """Spans of ``response_text[start:end]``, addressed in the response: one per choice
        (or text part) the range touches."""
        _check_names(kind, label)
        if self.response_text is None:
            return []
        if self._response_utf8 is None:
            self._response_utf8 = _Utf8(self.response_text, self._response_segments)
        return _spans(self.response_text, self._response_segments, self._response_utf8,
                      start, end, kind, label)

    def tool_call_spans(self, index, start, end, kind, label=None):
        """Spans of ``tool_calls[index].arguments[start:end]``. Empty when the arguments were
        not given as a string (an inline object cannot be masked in place)."""
        _check_names(kind, label)
        if type(index) is not int or not 0 <= index < len(self.tool_calls):
            return []
        call = self.tool_calls[index]
        if call._pointer is None:
            return []
        segments = [(call._pointer, 0, len(call.arguments))]
        if call._utf8 is None:
            call._utf8 = _Utf8(call.arguments, segments)
        return _spans(call.arguments, segments, call._utf8, start, end, kind, label)

    def _parse_response(self):
        texts, segments, offset = [], [], 0
        choices = self.response.get("choices")
        for choice, entry in enumerate(choices if isinstance(choices, list) else []):
            message = entry.get("message") if isinstance(entry, dict) else None
            if not isinstance(message, dict):
                continue
            text, pieces = _content(message.get("content"), f"/choices/{choice}/message")
            if text:
                segments.extend((pointer, start + offset, n) for pointer, start, n in pieces)
                texts.append(text)
                offset += len(text) + 1
            _collect_tool_calls(message, "response", choice, self.tool_calls)
        self.response_text = "\n".join(texts)
        self._response_segments = segments


def _object(what, body, expected):
    value = _json(what, body) if isinstance(body, (str, bytes)) else body
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} is not a JSON object; expected {expected}")
    return value


def _json(what, text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"{what} is not valid JSON: {error}") from None


def _parse_messages(request):
    entries = request.get("messages")
    if entries is None:
        return [], []
    if not isinstance(entries, list):
        raise InvalidInput("request field 'messages' is not an array")
    messages, tool_calls = [], []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInput(f"request message {index} is not a JSON object")
        content, segments = _content(entry.get("content"), f"/messages/{index}")
        role = entry.get("role")
        name = entry.get("name")
        messages.append(Message(
            role if isinstance(role, str) else "",
            content,
            name if isinstance(name, str) else None,
            index,
            segments,
        ))
        _collect_tool_calls(entry, "request", index, tool_calls)
    return messages, tool_calls


_TEXT_PARTS = ("text", "input_text", "output_text")


def _content(content, base):
    """OpenAI ``content`` flattened to text, and where each piece sits: ``(pointer, start,
    length)`` in code points of the flattened text."""
    if isinstance(content, str):
        return content, [(f"{base}/content", 0, len(content))]
    if not isinstance(content, list):
        return "", []
    pieces, segments, length = [], [], 0
    for k, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS:
            continue
        text = part.get("text")
        if not isinstance(text, str):
            continue
        if segments:
            length += 1
        segments.append((f"{base}/content/{k}/text", length, len(text)))
        pieces.append(text)
        length += len(text)
    return "\n".join(pieces), segments


def _collect_tool_calls(message, origin, index, out):
    base = f"/messages/{index}" if origin == "request" else f"/choices/{index}/message"
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        call = call if isinstance(call, dict) else {}
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        call_id = call.get("id")
        out.append(_tool_call(
            function, call_id if isinstance(call_id, str) else None, origin, index,
            f"{base}/tool_calls/{i}/function/arguments",
        ))
    function = message.get("function_call")
    if isinstance(function, dict):  # the deprecated single function call
        out.append(_tool_call(function, None, origin, index, f"{base}/function_call/arguments"))


def _tool_call(function, call_id, origin, index, pointer):
    name = function.get("name")
    arguments = function.get("arguments")
    if arguments is None:
        text = ""
    elif isinstance(arguments, str):
        text = arguments
    else:  # as the Rust SDK writes it: compact, keys sorted
        text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return ToolCall(
        call_id, name if isinstance(name, str) else "", text, origin, index,
        pointer if isinstance(arguments, str) else None,
    )


class _Utf8:
    """Code-point index -> UTF-8 byte offset in one text, cheap for increasing indices (spans
    are usually asked for in text order): each call encodes only what lies since the last.
    ``bases`` are the byte offsets of the text's segments, computed in one pass."""

    __slots__ = ("text", "ascii", "char", "byte", "bases")

    def __init__(self, text, segments):
        self.text = text
        self.ascii = text.isascii()
        self.char = 0
        self.byte = 0
        self.bases = {}
        if not self.ascii:
            for _, first, _ in segments:
                self.bases[first] = self.offset(first)
            self.char = self.byte = 0

    def offset(self, i):
        if self.ascii:
            return i
        if i < self.char:
            self.char = self.byte = 0
        self.byte += len(self.text[self.char:i].encode("utf-8", "surrogatepass"))
        self.char = i
        return self.byte


def _spans(flat, segments, utf8, start, end, kind, label):
    # The hot path of auditors that propose many spans: plain ints and ASCII text go straight.
    if type(start) is not int or type(end) is not int or not 0 <= start < end <= len(flat):
        return []
    spans = []
    for pointer, first, length in segments:
        a = start if start > first else first
        b = end if end < first + length else first + length
        if a >= b:
            continue
        if utf8.ascii:
            a, b = a - first, b - first
        else:
            base = utf8.bases[first]
            a, b = utf8.offset(a) - base, utf8.offset(b) - base
        span = _new_span(Span)
        span.field, span.start, span.end, span.kind, span.label = pointer, a, b, kind, label
        spans.append(span)
    return spans


_new_span = object.__new__
_CHECKED_NAMES = set()


def _check_names(kind, label):
    """Checks a span kind and label once (span helpers may be called thousands of times)."""
    key = (kind, label) if type(kind) is str and (label is None or type(label) is str) else None
    if key is not None and key in _CHECKED_NAMES:
        return
    _check_kind(kind)
    _check_label(label)
    if key is not None and len(_CHECKED_NAMES) < 1024:
        _CHECKED_NAMES.add(key)


# ---------------------------------------------------------------------------------------------
# Declaring an auditor


class _Method:
    """What ``@claims`` recorded about one method."""

    def __init__(self, function, phases, emits, settings):
        self.function = function
        self.name = function.__name__
        self.phases = phases
        self.emits = emits
        self.settings = settings


def claims(phase=None, *, emits=None):
    """Marks the method called in ``phase`` (a phase name or a list of them) and declares the
    claims it may return: ``emits={name: type}`` or ``{name: (type, description)}``.

    The method takes ``(self, input, *, setting=default, ...)`` and returns a list of
    :class:`Claim`. Its keyword-only parameters are the auditor's settings.
    """
    if callable(phase):
        raise TypeError("write @claims(phase=..., emits={...}), not a bare @claims")
    if phase is None or emits is None:
        raise TypeError(
            "@claims needs phase= and emits=, e.g. @claims(phase=\"request\", "
            "emits={\"shouting\": (\"boolean\", \"a message is all capitals\")})"
        )
    phases = _phase_list(phase)
    declared = _emits(emits)

    def decorate(function):
        if not inspect.isfunction(function):
            raise TypeError(f"@claims decorates a method (a def), not {function!r}")
        function.__lucid_claims__ = _Method(
            function, phases, declared, _method_settings(function)
        )
        return function

    return decorate


def _phase_list(phase):
    names = [phase] if isinstance(phase, str) else phase
    try:
        names = list(names)
    except TypeError:
        names = [phase]
    if not names:
        raise TypeError("@claims(phase=...) needs at least one phase")
    for name in names:
        if name not in PHASES:
            raise TypeError(f"@claims: unknown phase {name!r}; expected one of {', '.join(PHASES)}")
    return tuple(p for p in PHASES if p in names)


def _emits(emits):
    if not isinstance(emits, dict):
        raise TypeError(
            "@claims(emits=...) maps each claim name to its type or (type, description), "
            "e.g. emits={'shouting': ('boolean', 'a message is all capitals')}"
        )
    declared = {}
    for name, spec in emits.items():
        if not isinstance(name, str) or not _CLAIM_NAME.fullmatch(name):
            raise TypeError(
                f"@claims: claim name {name!r} is invalid; expected 1-128 letters, digits, '_' "
                "and '.', starting with a letter"
            )
        if name.startswith("lucid."):
            raise TypeError(f"@claims: claim name '{name}' is reserved (lucid.* is the host's)")
        if isinstance(spec, str):
            kind, description = spec, ""
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
            kind, description = spec
        else:
            raise TypeError(
                f"@claims: claim '{name}' must map to a type or (type, description), got {spec!r}"
            )
        if kind not in CLAIM_TYPES:
            raise TypeError(
                f"@claims: claim '{name}' has unknown type {kind!r}; expected one of "
                f"{', '.join(CLAIM_TYPES)}"
            )
        _check_text(f"the description of claim '{name}'", description)
        declared[name] = (kind, description)
    return declared


def _method_settings(function):
    where = function.__qualname__
    try:
        signature = inspect.signature(function)
    except NameError:  # an annotation names something defined later (only on 3.14+)
        if annotationlib is None:
            raise
        signature = inspect.signature(
            function, annotation_format=annotationlib.Format.FORWARDREF
        )
    parameters = list(signature.parameters.values())
    positional = [
        p for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) != 2:
        extra = [p.name for p in positional[2:]]
        hint = (
            f"; make {', '.join(extra)} keyword-only settings: def {function.__name__}(self, "
            f"input, *, {extra[0]}=...)" if extra else ""
        )
        raise TypeError(
            f"{where} must take (self, input) then keyword-only settings; it takes "
            f"{len(positional)} positional parameter(s){hint}"
        )
    hints = _type_hints(function)
    settings = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(
                f"{where}: *{p.name} is not allowed; declare each setting as a keyword-only "
                "parameter with a default"
            )
        if p.kind != p.KEYWORD_ONLY:
            continue
        if p.default is p.empty:
            raise TypeError(
                f"{where}: setting '{p.name}' has no default; every setting needs one "
                f"(e.g. {p.name}: int = 3)"
            )
        annotation = hints.get(p.name, p.annotation)
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, function.__globals__)  # a postponed annotation
            except Exception as error:
                raise TypeError(
                    f"{where}: cannot resolve the annotation of setting '{p.name}' "
                    f"({annotation!r}): {error}"
                ) from None
        settings[p.name] = _setting(where, p.name, annotation, p.default)
    return settings


def _type_hints(function):
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # an unrelated annotation may not resolve; settings are resolved one by one
        return {}


_ANNOTATION_TYPES = {bool: "boolean", int: "count", float: "number", str: "string",
                     list: "string_list", tuple: "string_list"}


def _setting(where, name, annotation, default):
    """``{"type", "default", "description", "container"}`` of one setting."""
    if not _SETTING_NAME.fullmatch(name):
        raise TypeError(
            f"{where}: setting name '{name}' is invalid; expected 1-64 ASCII letters, digits "
            "and '_', starting with a letter"
        )
    description = ""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
        description = next((m for m in metadata if isinstance(m, str)), "")
    if annotation is inspect.Parameter.empty:
        kind = _default_type(default)
        if kind is None:
            raise TypeError(
                f"{where}: setting '{name}' has default {default!r}; a setting is a bool, int, "
                "float, str or list of str"
            )
    else:
        kind = _annotation_type(annotation)
        if kind is None:
            raise TypeError(
                f"{where}: setting '{name}' is annotated {annotation!r}; a setting is a bool, "
                "int, float, str or list[str]"
            )
    try:
        value = _setting_value(kind, default)
    except TypeError as error:
        raise TypeError(f"{where}: the default of setting '{name}' {error}") from None
    _check_text(f"the description of setting '{name}'", description)
    if kind == "string":
        _check_text(f"the default of setting '{name}'", value)
    elif kind == "string_list":
        if sum(len(v.encode("utf-8", "surrogatepass")) + 1 for v in value) > _MAX_TEXT_BYTES:
            raise TypeError(f"the default of setting '{name}' is longer than 4096 bytes")
    container = tuple if isinstance(default, tuple) else list
    return {"type": kind, "default": value, "description": description, "container": container}


def _default_type(default):
    if isinstance(default, (list, tuple)):
        return "string_list"
    return _ANNOTATION_TYPES.get(type(default))


def _annotation_type(annotation):
    if annotation in _ANNOTATION_TYPES:
        return _ANNOTATION_TYPES[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args == (str,):
        return "string_list"
    if origin is tuple and (args == (str, ...) or (args and all(a is str for a in args))):
        return "string_list"
    if origin is collections.abc.Sequence and args == (str,):
        return "string_list"
    return None


def _setting_value(kind, value):
    """``value`` as a setting of ``kind``; TypeError saying what was expected."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise TypeError(f"is {value!r}; expected True or False")
    if kind == "count":
        if _is_int(value) and 0 <= value <= MAX_SAFE_INTEGER:
            return int(value)
        raise TypeError(f"is {value!r}; expected an int in 0..2**53-1 (a count)")
    if kind == "number":
        if _is_number(value):
            return float(value)
        raise TypeError(f"is {value!r}; expected a finite number")
    if kind == "string":
        if isinstance(value, str):
            return value
        raise TypeError(f"is {value!r}; expected a str")
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"is {value!r}; expected a list of str")


class _Spec:
    """Everything derived from an auditor class: its vocabulary and its methods by phase."""

    def __init__(self, cls, methods):
        name = cls.__name__
        auditor_id = getattr(cls, "id", None)
        if not isinstance(auditor_id, str) or not _ID.fullmatch(auditor_id):
            raise TypeError(
                f"{name}.id is {auditor_id!r}; set id = \"...\" to 1-64 lowercase letters, "
                "digits, '-' and '_', starting with a letter"
            )
        version = getattr(cls, "version", None)
        if not isinstance(version, str) or not version.strip():
            raise TypeError(f"{name}.version is {version!r}; set version = \"0.1.0\" (semver)")
        _check_text(f"{name}.version", version)
        description = getattr(cls, "description", None)
        if description is None:
            description = inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""
        if not isinstance(description, str):
            raise TypeError(f"{name}.description is {description!r}; expected a str")
        _check_text(f"{name}.description", description)
        self.cls = cls
        self.id, self.version, self.description = auditor_id, version, description

        self.by_phase = {}
        self.claims = {}    # name -> [type, set of phases, description]
        self.settings = {}  # name -> setting dict
        for method in methods:
            for phase in method.phases:
                other = self.by_phase.get(phase)
                if other is not None:
                    raise TypeError(
                        f"{name}: the {phase} phase is handled by both {other.name}() and "
                        f"{method.name}(); one method per phase"
                    )
                self.by_phase[phase] = method
            for claim, (kind, text) in method.emits.items():
                known = self.claims.setdefault(claim, [kind, set(), text])
                if known[0] != kind:
                    raise TypeError(
                        f"{name}: claim '{claim}' is declared as {known[0]} and as {kind} "
                        f"(in {method.name}()); a claim has one type"
                    )
                if text and known[2] and text != known[2]:
                    raise TypeError(
                        f"{name}: claim '{claim}' has two descriptions ({known[2]!r} and "
                        f"{text!r}); give it one, or leave the other empty"
                    )
                known[1].update(method.phases)
                known[2] = known[2] or text
            for setting, spec in method.settings.items():
                known = self.settings.setdefault(setting, spec)
                if (known["type"], known["default"]) != (spec["type"], spec["default"]):
                    raise TypeError(
                        f"{name}: setting '{setting}' is {known['type']} = {known['default']!r} "
                        f"in one method and {spec['type']} = {spec['default']!r} in "
                        f"{method.name}(); a setting declared twice must agree"
                    )
                if spec["description"] and known["description"] and (
                    spec["description"] != known["description"]
                ):
                    raise TypeError(
                        f"{name}: setting '{setting}' has two descriptions; give it one, or "
                        "leave the other empty"
                    )
                if not known["description"]:
                    self.settings[setting] = dict(known, description=spec["description"])
        if not self.by_phase:
            raise TypeError(f"{name} has no @claims(phase=...) method")
        if len(self.claims) > _MAX_CLAIMS or len(self.settings) > _MAX_SETTINGS:
            raise TypeError(f"{name} declares more than {_MAX_CLAIMS} claims or "
                            f"{_MAX_SETTINGS} settings")

    def vocabulary(self):
        return {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "phases": [p for p in PHASES if p in self.by_phase],
            "claims": [
                {"name": name, "type": kind, "phases": [p for p in PHASES if p in phases],
                 "description": text}
                for name, (kind, phases, text) in self.claims.items()
            ],
            "settings": [
                {"name": name, "type": s["type"], "default": _copy(s["default"]),
                 "description": s["description"]}
                for name, s in self.settings.items()
            ],
        }

    def effective_settings(self, given, strict):
        """Every declared setting's value: ``given`` (checked) or the default. Unknown names
        are an error when ``strict`` (native tests), ignored otherwise."""
        values = {}
        for name, value in given.items():
            spec = self.settings.get(name)
            if spec is None:
                if strict:
                    known = ", ".join(self.settings) or "none"
                    raise TypeError(f"unknown setting '{name}' (declared: {known})")
                continue
            try:
                values[name] = _setting_value(spec["type"], value)
            except TypeError as error:
                if strict:
                    raise TypeError(f"setting '{name}' {error}") from None
                raise InvalidInput(f"setting '{name}' {error}") from None
        for name, spec in self.settings.items():
            values.setdefault(name, _copy(spec["default"]))
        return values

    def observe(self, input):
        """Calls the method of ``input.phase`` and checks what it returned."""
        method = self.by_phase.get(input.phase)
        if method is None:
            raise ContractError(f"auditor '{self.id}' does not observe the {input.phase} phase")
        kwargs = {}
        for name in method.settings:
            value = input.settings[name]
            kwargs[name] = method.settings[name]["container"](value) if isinstance(
                value, list) else value
        result = method.function(self.cls(), input, **kwargs)
        if result is None:
            raise ContractError(
                f"{self.cls.__name__}.{method.name}() returned None; return a list of Claim"
            )
        if isinstance(result, Claim):
            result = [result]
        result = list(result)
        self.check(input.phase, result)
        return result

    def check(self, phase, claims):
        seen = set()
        for claim in claims:
            if not isinstance(claim, Claim):
                raise ContractError(f"returned {claim!r}, which is not a Claim")
            known = self.claims.get(claim.name)
            if known is None:
                raise ContractError(
                    f"claim '{claim.name}' is not declared; add it to emits= of a @claims method"
                )
            if claim.type != known[0]:
                raise ContractError(
                    f"claim '{claim.name}' has type {claim.type}; it is declared as {known[0]}"
                )
            if phase not in known[1]:
                raise ContractError(
                    f"claim '{claim.name}' is not declared for the {phase} phase"
                )
            if claim.name in seen:
                raise ContractError(f"claim '{claim.name}' is returned twice")
            seen.add(claim.name)
            if claim.spans and phase not in ("request", "response"):
                raise ContractError(
                    f"claim '{claim.name}' has spans in the {phase} phase; spans are for the "
                    "request and response phases"
                )


def _collect_methods(cls):
    """The ``@claims`` methods of ``cls`` and its bases, in definition order; a method
    redefined in a subclass replaces the inherited one."""
    functions = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            functions[name] = value
    return [
        f.__lucid_claims__ for f in functions.values() if hasattr(f, "__lucid_claims__")
    ]


class ClaimsAuditor:
    """Base class of auditors. Set ``id`` (and ``version``; the docstring or ``description`` is
    the vocabulary's description) and decorate methods with :func:`claims`.

    The class is checked when it is created: any mistake in the declaration raises TypeError at
    import. Each call gets a fresh instance: keep no state between calls (compile patterns and
    load tables at module or class level instead; in the component that runs at build time).
    """

    id = None
    version = "0.1.0"
    description = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        methods = _collect_methods(cls)
        # A base class with no @claims methods yet is allowed; it just cannot be exported.
        cls.__lucid_spec__ = _Spec(cls, methods) if methods else None

    @classmethod
    def vocabulary(cls):
        """The vocabulary as the host will see it (the JSON shape ``lucid auditor inspect``
        prints): ``{"id", "version", "description", "phases", "claims", "settings"}``."""
        return _spec(cls).vocabulary()


def _spec(auditor):
    cls = auditor if isinstance(auditor, type) else type(auditor)
    if not issubclass(cls, ClaimsAuditor):
        raise TypeError(f"{cls.__name__} is not a ClaimsAuditor subclass")
    spec = cls.__dict__.get("__lucid_spec__")
    if spec is None:
        raise TypeError(f"{cls.__name__} has no @claims(phase=...) method")
    return spec


# ---------------------------------------------------------------------------------------------
# Running: natively (tests) and as a component


def run(auditor, phase, request, response=None, settings=None, artifacts=None, *, headers=None,
        request_id="test", scope=None):
    """Calls ``auditor`` (a :class:`ClaimsAuditor` subclass) as the host would, in plain
    CPython, and returns its claims.

    ``request``, ``response`` and ``artifacts`` are dicts or JSON text; ``settings`` a dict of
    setting values over the defaults (an unknown name or a wrong type raises TypeError);
    ``headers`` a dict of ``x-lucid-*`` headers, passed as the exchange context. The claims are
    checked against the vocabulary and every span against the text it names
    (:class:`ContractError`). Exceptions from the auditor propagate unchanged.
    """
    spec = _spec(auditor)
    if headers:
        context = dict(_json("artifacts", artifacts) if isinstance(artifacts, str)
                       else artifacts or {})
        merged = dict(context.get("headers") or {})
        merged.update({name.lower(): value for name, value in headers.items()})
        context["headers"] = merged
        artifacts = context
    effective = spec.effective_settings(settings or {}, strict=True)
    input = Input(phase, request, response, artifacts, request_id=request_id, scope=scope,
                  settings=effective)
    result = spec.observe(input)
    document = {"request": input.request, "response": input.response}.get(phase)
    encoded = {}
    for claim in result:
        for span in claim.spans:
            _check_span_text(claim.name, span, document, encoded)
    return result


def _check_span_text(claim, span, document, encoded):
    """Raises ContractError unless ``span`` names a string of ``document`` and fits it
    (``encoded`` caches each field's UTF-8 bytes)."""
    data = encoded.get(span.field)
    if data is None:
        data = encoded[span.field] = _field_bytes(claim, span, document)
    boundary = lambda i: i == len(data) or (i < len(data) and data[i] & 0xC0 != 0x80)
    if span.end > len(data) or not boundary(span.start) or not boundary(span.end):
        raise ContractError(
            f"claim '{claim}': span {span.start}..{span.end} of {span.field} does not fit its "
            f"{len(data)} bytes on character boundaries"
        )


def _field_bytes(claim, span, document):
    value = document
    for token in span.field.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            value = None
            break
    if not isinstance(value, str):
        raise ContractError(f"claim '{claim}': span field {span.field} is not a string of the "
                            "observed document")
    return value.encode("utf-8", "surrogatepass")


def export(auditor):
    """The class componentize-py exports for ``auditor``: in your app module,
    ``Auditor = export(MyAuditor)``.

    Outside a component build (plain CPython, no ``wit_world`` bindings) it returns a stand-in
    whose methods raise, so the app module still imports in tests.
    """
    spec = _spec(auditor)
    try:
        from componentize_py_types import Err
        from wit_world import exports
        from wit_world.imports import types as wit
    except ImportError:
        return _native_stand_in(spec)

    # The component has no stdout or stderr (a write would trap): print() output is dropped.
    sys.stdout = sys.stderr = _Discard()
    describe = _vocabulary_to_wit(wit, spec.vocabulary())
    claim_values = {
        "score_normalized": wit.ClaimValue_ScoreNormalized,
        "boolean": wit.ClaimValue_Boolean,
        "string": wit.ClaimValue_String,
        "string_list": wit.ClaimValue_StringList,
        "count": wit.ClaimValue_Count,
        "duration_ms": wit.ClaimValue_DurationMs,
        "object": wit.ClaimValue_Object,
    }

    def claim_to_wit(claim):
        value = claim._value_json if claim.type == "object" else claim.value
        spans = [wit.Span(s.field, s.start, s.end, s.kind, s.label) for s in claim.spans]
        return wit.Claim(claim.name, claim_values[claim.type](value), claim.confidence,
                         claim._metadata_json, spans)

    class Auditor(exports.Auditor):
        def describe(self):
            return describe

        def observe(self, observation):
            try:
                phase = observation.phase.name.lower()
                given = {s.name: s.value.value for s in observation.settings}
                scope = observation.scope
                input = Input(
                    phase, observation.request, observation.response, observation.artifacts,
                    request_id=observation.request_id,
                    scope=Scope(scope.org, scope.workspace, scope.agent),
                    settings=spec.effective_settings(given, strict=False),
                )
                return [claim_to_wit(claim) for claim in spec.observe(input)]
            except InvalidInput as error:
                raise Err(wit.AuditorError_InvalidInput(_message(error))) from None
            except Exception as error:
                raise Err(wit.AuditorError_Failed(_message(error))) from None

    Auditor.__qualname__ = Auditor.__name__ = "Auditor"
    return Auditor


def _vocabulary_to_wit(wit, vocabulary):
    setting_values = {
        "boolean": wit.SettingValue_Boolean,
        "count": wit.SettingValue_Count,
        "number": wit.SettingValue_Number,
        "string": wit.SettingValue_String,
        "string_list": wit.SettingValue_StringList,
    }
    phase = lambda name: wit.Phase[name.upper()]
    return wit.Vocabulary(
        vocabulary["id"],
        vocabulary["version"],
        vocabulary["description"],
        [phase(p) for p in vocabulary["phases"]],
        [wit.ClaimSpec(c["name"], wit.ClaimType[c["type"].upper()],
                       [phase(p) for p in c["phases"]], c["description"])
         for c in vocabulary["claims"]],
        [wit.SettingSpec(s["name"], wit.SettingType[s["type"].upper()],
                         setting_values[s["type"]](s["default"]), s["description"])
         for s in vocabulary["settings"]],
    )


class _Discard:
    """``sys.stdout``/``sys.stderr`` in the component."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


def _native_stand_in(spec):
    class Auditor:
        """Stand-in for the component export outside a componentize-py build; test with
        ``lucid_auditor.run(...)`` instead."""

        auditor = spec.cls

        def describe(self):
            raise RuntimeError("only available in the component; use "
                               f"{spec.cls.__name__}.vocabulary() in tests")

        def observe(self, observation):
            raise RuntimeError("only available in the component; use lucid_auditor.run() in tests")

    return Auditor


def _message(error):
    """``Type: message (at file:line in function)`` for the host's error line."""
    text = str(error) if isinstance(error, (InvalidInput, ContractError)) else (
        f"{type(error).__name__}: {error}"
    )
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None and not isinstance(error, (InvalidInput, ContractError)):
        code = tb.tb_frame.f_code
        text += f" (at {code.co_filename}:{tb.tb_lineno} in {code.co_name})"
    return text[:2000]


# ---------------------------------------------------------------------------------------------
# Small helpers


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_kind(kind):
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ValueError(
            f"span kind {kind!r} is not a kind name (expected 1 to 32 lowercase letters, digits "
            "or '_')"
        )


def _check_label(label):
    if label is not None and (not isinstance(label, str) or len(label) > 64
                              or not _LABEL.fullmatch(label)):
        raise ValueError(
            f"span label {label!r} is not a label (expected '[' then capital letters, digits, "
            "'_', '-' or spaces, then ']', at most 64 bytes, e.g. [EMAIL])"
        )


def _check_text(what, text):
    if not isinstance(text, str):
        raise TypeError(f"{what} is {text!r}; expected a str")
    if len(text.encode("utf-8", "surrogatepass")) > _MAX_TEXT_BYTES:
        raise TypeError(f"{what} is longer than {_MAX_TEXT_BYTES} bytes")


def _copy(value):
    return list(value) if isinstance(value, list) else value


def _short(text):
    return text if len(text) <= 40 else text[:37] + "..."
