"""Unit tests of the Python auditor SDK, in plain CPython (standard library only):

    python -m unittest discover -s sdks/python/tests
"""

import enum
import json
import os
import sys
import types
import unittest
from collections import namedtuple
from typing import Annotated

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import lucid_auditor as la  # noqa: E402
from lucid_auditor import (  # noqa: E402
    Claim,
    ClaimsAuditor,
    ContractError,
    Input,
    InvalidInput,
    Span,
    claims,
    export,
    run,
)


class Shout(ClaimsAuditor):
    """Flags prompts written in capitals."""

    id = "shout"
    version = "0.1.0"

    @claims(phase="request", emits={"shouting": ("boolean", "a message is all capitals")})
    def request(self, input: Input, *,
                min_letters: Annotated[int, "letters needed to judge"] = 3) -> list:
        loud = [m.index for m in input.messages
                if m.content.isupper() and sum(c.isalpha() for c in m.content) >= min_letters]
        return [Claim("shouting", "boolean", bool(loud), metadata={"messages": loud})]


class Multi(ClaimsAuditor):
    id = "multi"
    version = "2.0.0"
    description = "several phases"

    @claims(phase=["response", "request"], emits={
        "risk": ("score_normalized", "how risky"),
        "seen": "count",
    })
    def texts(self, input, *, threshold: float = 0.5, tags: tuple = ("a",),
              on: bool = True) -> list:
        return [Claim("risk", "score_normalized", threshold),
                Claim("seen", "count", len(input.texts())),
                ] + ([] if on else [])

    @claims(phase="execution", emits={"seen": ("count", "texts seen"), "names": "string_list"})
    def tools(self, input, *, names_only: Annotated[list[str], "names"] = ["x"],
              threshold: Annotated[float, "risk threshold"] = 0.5) -> list:
        return [Claim("names", "string_list", [c.name for c in input.tool_calls] + names_only)]


REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "name": "ann", "content": [
            {"type": "text", "text": "look at"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "this"},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found x"},
    ],
}

RESPONSE = {
    "id": "chatcmpl-1",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "here you go", "tool_calls": [
            {"id": "call_2", "type": "function",
             "function": {"name": "send", "arguments": {"to": "bob", "a": 1}}},
        ]}},
        {"index": 1, "message": {"role": "assistant", "content": "second choice"}},
    ],
}


def chat(*contents):
    return {"messages": [{"role": "user", "content": c} for c in contents]}


class VocabularyTest(unittest.TestCase):
    def test_a_class_becomes_its_vocabulary(self):
        self.assertEqual(Shout.vocabulary(), {
            "id": "shout",
            "version": "0.1.0",
            "description": "Flags prompts written in capitals.",
            "phases": ["request"],
            "claims": [{"name": "shouting", "type": "boolean", "phases": ["request"],
                        "description": "a message is all capitals"}],
            "settings": [{"name": "min_letters", "type": "count", "default": 3,
                          "description": "letters needed to judge"}],
        })

    def test_phases_merge_and_settings_are_typed(self):
        vocabulary = Multi.vocabulary()
        self.assertEqual(vocabulary["description"], "several phases")
        self.assertEqual(vocabulary["phases"], ["request", "execution", "response"])
        claims_ = {c["name"]: c for c in vocabulary["claims"]}
        self.assertEqual(claims_["seen"]["phases"], ["request", "execution", "response"])
        self.assertEqual(claims_["seen"]["description"], "texts seen")
        self.assertEqual(claims_["risk"]["phases"], ["request", "response"])
        self.assertEqual(claims_["names"]["type"], "string_list")
        settings = {s["name"]: s for s in vocabulary["settings"]}
        self.assertEqual(list(settings), ["threshold", "tags", "on", "names_only"])
        self.assertEqual(settings["threshold"],
                         {"name": "threshold", "type": "number", "default": 0.5,
                          "description": "risk threshold"})
        self.assertEqual(settings["tags"]["type"], "string_list")
        self.assertEqual(settings["tags"]["default"], ["a"])
        self.assertEqual(settings["on"]["type"], "boolean")
        self.assertEqual(settings["names_only"]["default"], ["x"])

    def test_the_vocabulary_is_deterministic_and_a_copy(self):
        first = Multi.vocabulary()
        first["settings"][1]["default"].append("mutated")
        self.assertEqual(json.dumps(Multi.vocabulary()), json.dumps(Multi.vocabulary()))
        self.assertEqual(Multi.vocabulary()["settings"][1]["default"], ["a"])

    def test_annotations_decide_the_type_and_may_be_postponed(self):
        class Typed(ClaimsAuditor):
            id = "typed"

            @claims(phase="request", emits={"x": "boolean"})
            def request(self, input, *, ratio: float = 1, names: "list[str]" = (),
                        label: "Annotated[str, 'a label']" = "", flags: "tuple[str, ...]" = ()):
                return []

        settings = {s["name"]: s for s in Typed.vocabulary()["settings"]}
        self.assertEqual((settings["ratio"]["type"], settings["ratio"]["default"]), ("number", 1.0))
        self.assertIsInstance(settings["ratio"]["default"], float)
        self.assertEqual(settings["names"]["type"], "string_list")
        self.assertEqual(settings["label"]["description"], "a label")
        self.assertEqual(settings["flags"]["type"], "string_list")
        self.assertEqual(Typed.vocabulary()["description"], "")

    def test_a_base_class_without_methods_is_allowed_but_not_exportable(self):
        class Base(ClaimsAuditor):
            pass

        with self.assertRaisesRegex(TypeError, "no @claims"):
            Base.vocabulary()
        with self.assertRaisesRegex(TypeError, "no @claims"):
            export(Base)

    def test_a_subclass_inherits_and_overrides_methods(self):
        class Louder(Shout):
            id = "louder"

        self.assertEqual(Louder.vocabulary()["claims"], Shout.vocabulary()["claims"])
        self.assertEqual(run(Louder, "request", chat("HEY"))[0].value, True)


class BadDeclarationTest(unittest.TestCase):
    def check(self, pattern, make):
        with self.assertRaisesRegex(TypeError, pattern):
            make()

    def test_two_methods_on_one_phase(self):
        def make():
            class Twice(ClaimsAuditor):
                id = "twice"

                @claims(phase="request", emits={"a": "boolean"})
                def one(self, input):
                    return []

                @claims(phase=["response", "request"], emits={"b": "boolean"})
                def two(self, input):
                    return []
        self.check(r"request phase is handled by both one\(\) and two\(\)", make)

    def test_signatures(self):
        self.check(r"make limit keyword-only", lambda: claims(phase="request", emits={})(
            lambda self, input, limit=3: []))

        def positional(self, input, limit=3):
            return []

        def no_default(self, input, *, limit: int):
            return []

        def var_kw(self, input, **settings):
            return []

        def no_input(self):
            return []

        def private(self, input, *, _hidden=1):
            return []

        def dict_setting(self, input, *, table: dict = None):
            return []

        def bool_as_count(self, input, *, limit: int = True):
            return []

        def negative(self, input, *, limit: int = -1):
            return []

        def float_count(self, input, *, limit: int = 0.5):
            return []

        def mixed_list(self, input, *, names=["a", 1]):
            return []

        def none_default(self, input, *, name=None):
            return []

        decorate = claims(phase="request", emits={})
        self.check(r"keyword-only settings: def positional\(self, input, \*, limit=", lambda: decorate(positional))
        self.check(r"setting 'limit' has no default", lambda: decorate(no_default))
        self.check(r"\*settings is not allowed", lambda: decorate(var_kw))
        self.check(r"must take \(self, input\)", lambda: decorate(no_input))
        self.check(r"setting name '_hidden' is invalid", lambda: decorate(private))
        self.check(r"annotated <class 'dict'>", lambda: decorate(dict_setting))
        self.check(r"is True; expected an int", lambda: decorate(bool_as_count))
        self.check(r"is -1; expected an int", lambda: decorate(negative))
        self.check(r"is 0.5; expected an int", lambda: decorate(float_count))
        self.check(r"expected a list of str", lambda: decorate(mixed_list))
        self.check(r"has default None", lambda: decorate(none_default))

    def test_claims_arguments(self):
        self.check(r"unknown phase 'answer'", lambda: claims(phase="answer", emits={}))
        self.check(r"at least one phase", lambda: claims(phase=[], emits={}))
        self.check(r"unknown type 'bool'", lambda: claims(phase="request", emits={"a": "bool"}))
        self.check(r"maps each claim name", lambda: claims(phase="request", emits=["a"]))
        self.check(r"must map to a type or \(type, description\)",
                   lambda: claims(phase="request", emits={"a": ("boolean",)}))
        self.check(r"claim name 'a b' is invalid", lambda: claims(phase="request", emits={"a b": "count"}))
        self.check(r"reserved", lambda: claims(phase="request", emits={"lucid.x": "count"}))
        self.check(r"not a bare @claims", lambda: claims(lambda self, input: []))
        self.check(r"needs phase= and emits=", lambda: claims(phase="request"))

    def test_class_level_conflicts(self):
        def types_differ():
            class A(ClaimsAuditor):
                id = "a"

                @claims(phase="request", emits={"x": "boolean"})
                def request(self, input):
                    return []

                @claims(phase="response", emits={"x": "count"})
                def response(self, input):
                    return []

        def settings_differ():
            class B(ClaimsAuditor):
                id = "b"

                @claims(phase="request", emits={"x": "boolean"})
                def request(self, input, *, limit: int = 3):
                    return []

                @claims(phase="response", emits={"x": "boolean"})
                def response(self, input, *, limit: int = 4):
                    return []

        def bad_id():
            class C(ClaimsAuditor):
                id = "Bad Id"

                @claims(phase="request", emits={"x": "boolean"})
                def request(self, input):
                    return []

        def no_id():
            class D(ClaimsAuditor):
                @claims(phase="request", emits={"x": "boolean"})
                def request(self, input):
                    return []

        self.check(r"claim 'x' is declared as boolean and as count", types_differ)
        self.check(r"setting 'limit' is count = 3 in one method and count = 4", settings_differ)
        self.check(r"C.id is 'Bad Id'", bad_id)
        self.check(r"D.id is None", no_id)


class ClaimTest(unittest.TestCase):
    def test_values_are_checked_against_their_type(self):
        bad = [
            ("count", True), ("count", -1), ("count", 2**53), ("count", 1.0),
            ("duration_ms", "3"), ("score_normalized", 1.5), ("score_normalized", float("nan")),
            ("score_normalized", True), ("boolean", 1), ("string", b"x"),
            ("string_list", "ab"), ("string_list", ["a", 2]), ("object", "text"),
            ("object", {"n": 2**60}), ("object", {"x": float("inf")}),
            ("object", {"x": {1, 2}}),
        ]
        for kind, value in bad:
            with self.subTest(kind=kind, value=value), self.assertRaises(ValueError):
                Claim("c", kind, value)
        with self.assertRaisesRegex(ValueError, "unknown type"):
            Claim("c", "number", 1)
        with self.assertRaisesRegex(ValueError, "claim name"):
            Claim("1c", "count", 1)
        with self.assertRaisesRegex(ValueError, "confidence"):
            Claim("c", "count", 1, confidence=1.1)
        with self.assertRaisesRegex(ValueError, "nested deeper than 64"):
            deep = []
            for _ in range(70):
                deep = [deep]
            Claim("c", "object", deep)
        with self.assertRaisesRegex(ValueError, "metadata of claim 'c' is not JSON"):
            Claim("c", "count", 1, metadata={"x": object()})

    def test_good_values(self):
        self.assertEqual(Claim("s", "score_normalized", 1).value, 1.0)
        self.assertEqual(Claim("l", "string_list", ("a", "b")).value, ["a", "b"])
        obj = Claim("o", "object", {"é": [1, 2.5, None]}, metadata={"k": "v"}, confidence=0.25)
        self.assertEqual(obj.value, {"é": [1, 2.5, None]})
        self.assertEqual(obj._value_json, '{"é":[1,2.5,null]}')
        self.assertEqual(obj._metadata_json, '{"k":"v"}')
        self.assertEqual(obj.confidence, 0.25)
        self.assertEqual(Claim("c", "count", 2**53 - 1).value, 2**53 - 1)
        self.assertEqual(Claim("c", "count", 0), Claim("c", "count", 0))
        self.assertIn("confidence=0.25", repr(obj))

    def test_spans(self):
        span = Span("/messages/0/content", 0, 3, "email", "[EMAIL]")
        claim = Claim("x", "boolean", True, spans=span)
        self.assertEqual(claim.spans, [span])
        for args in [("messages/0", 0, 1, "x"), ("/m", 2, 2, "x"), ("/m", -1, 2, "x"),
                     ("/m", 0, 1, "E-mail"), ("/m", 0, 1, "x", "EMAIL"),
                     ("/m", 0, 1, "x", "[e]"), ("/m", 0, 1, "x", "[" + "X" * 63 + "]"),
                     ("/m\n", 0, 1, "x"), ("/m", True, 2, "x")]:
            with self.subTest(args=args), self.assertRaises(ValueError):
                Span(*args)
        with self.assertRaisesRegex(ValueError, "more than 4096"):
            Claim("x", "boolean", True, spans=[span] * 4097)
        with self.assertRaisesRegex(TypeError, "not a Span"):
            Claim("x", "boolean", True, spans=[("/m", 0, 1, "x")])


class InputTest(unittest.TestCase):
    def test_messages_are_flattened_to_text(self):
        input = Input("request", json.dumps(REQUEST))
        self.assertEqual([m.role for m in input.messages], ["system", "user", "assistant", "tool"])
        self.assertEqual(input.messages[1].content, "look at\nthis")
        self.assertEqual(input.messages[1].name, "ann")
        self.assertEqual(input.messages[2].content, "")
        self.assertTrue(input.messages[3].untrusted)
        self.assertFalse(input.messages[0].untrusted)
        self.assertEqual(input.texts(), ["be brief", "look at\nthis", "found x"])
        self.assertIsNone(input.response_text)
        self.assertEqual(input.request["model"], "gpt-4o")

    def test_tool_calls_come_from_request_and_response(self):
        input = Input("execution", REQUEST, json.dumps(RESPONSE))
        calls = input.tool_calls
        self.assertEqual([(c.name, c.id, c.origin, c.index) for c in calls],
                         [("lookup", "call_1", "request", 2), ("send", "call_2", "response", 0)])
        self.assertEqual(calls[0].arguments, '{"q":"x"}')
        self.assertEqual(calls[1].arguments, '{"a":1,"to":"bob"}')  # as Rust writes it
        self.assertEqual(input.texts(), ['{"q":"x"}', '{"a":1,"to":"bob"}'])
        self.assertEqual(input.response_text, "here you go\nsecond choice")
        self.assertEqual(input.texts("response"), ["here you go\nsecond choice"])

    def test_legacy_function_call_and_odd_shapes(self):
        request = {"messages": [
            {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
            {"role": 3, "content": [1, {"type": "text", "text": 2}, {"type": "input_text", "text": "ok"}],
             "tool_calls": ["not a call", {"function": "nope"}]},
        ]}
        input = Input("request", request)
        self.assertEqual([c.name for c in input.tool_calls], ["f", "", ""])
        self.assertEqual(input.messages[1].role, "")
        self.assertEqual(input.messages[1].content, "ok")
        response = {"choices": [None, {"message": "text"}, {"message": {"content": 5}}]}
        self.assertEqual(Input("response", {}, response).response_text, "")
        self.assertEqual(Input("response", {}, {"choices": "x"}).texts(), [])

    def test_malformed_bodies_are_invalid_input(self):
        for body in ["{not json", "[1, 2]", '{"messages": "hi"}', '{"messages": ["hi"]}', "",
                     "[" * 100000]:
            with self.subTest(body=body[:20]), self.assertRaises(InvalidInput):
                Input("request", body)
        with self.assertRaises(InvalidInput):
            Input("response", "{}", "nope")
        with self.assertRaises(InvalidInput):
            Input("request", "{}", None, "{bad")
        self.assertEqual(Input("artifact", "").messages, [])
        self.assertEqual(Input("artifact", None).request, {})
        with self.assertRaises(ValueError):
            Input("answer", "{}")

    def test_headers_come_from_the_exchange_context(self):
        context = {"headers": {"x-lucid-region": "eu-west-1", "X-Lucid-N": 3}}
        input = Input("request", "{}", None, json.dumps(context))
        self.assertEqual(input.header("X-Lucid-Region"), "eu-west-1")
        self.assertIsNone(input.header("x-lucid-n"))
        self.assertEqual(input.headers, {"x-lucid-region": "eu-west-1"})
        self.assertEqual(input.artifacts, context)
        artifact = Input("artifact", "", None, {"plugin_set_hash": "ab", "headers": context["headers"]})
        self.assertEqual(artifact.headers, {})
        self.assertIsNone(artifact.header("x-lucid-region"))
        self.assertEqual(Input("request", "{}", None, {"headers": ["x"]}).headers, {})


class SpanAddressingTest(unittest.TestCase):
    def test_ranges_over_text_parts_are_split(self):
        input = Input("request", REQUEST, RESPONSE)
        # Message 1 is "look at\nthis" from parts 0 and 2: a range over the join is split.
        self.assertEqual(input.message_spans(1, 5, 12, "x"), [
            Span("/messages/1/content/0/text", 5, 7, "x"),
            Span("/messages/1/content/2/text", 0, 4, "x"),
        ])
        self.assertEqual(input.message_spans(0, 0, 2, "x", "[X]"),
                         [Span("/messages/0/content", 0, 2, "x", "[X]")])
        # Out of range, empty, reversed, missing message: nothing.
        for args in [(0, 0, 99), (0, 2, 2), (0, 3, 1), (9, 0, 1), (0, -1, 2), (1, 7, 8)]:
            with self.subTest(args=args):
                self.assertEqual(input.message_spans(*args, "x"), [])
        # The response text joins the choices: "here you go\nsecond choice".
        self.assertEqual(input.response_spans(12, 18, "x"),
                         [Span("/choices/1/message/content", 0, 6, "x")])
        self.assertEqual(input.response_spans(5, 18, "x"), [
            Span("/choices/0/message/content", 5, 11, "x"),
            Span("/choices/1/message/content", 0, 6, "x"),
        ])
        # Tool calls: string arguments only.
        self.assertEqual(input.tool_call_spans(0, 2, 3, "x"),
                         [Span("/messages/2/tool_calls/0/function/arguments", 2, 3, "x")])
        self.assertEqual(input.tool_call_spans(1, 0, 2, "x"), [], "inline object")
        self.assertEqual(Input("request", REQUEST).response_spans(0, 1, "x"), [])
        with self.assertRaisesRegex(ValueError, "kind"):
            input.message_spans(0, 0, 1, "Bad Kind")
        with self.assertRaisesRegex(ValueError, "label"):
            input.message_spans(0, 0, 1, "x", "free text")

    def test_offsets_are_utf8_bytes(self):
        text = "é 😀 mail bob@example.com"
        input = Input("request", chat(text))
        start = text.index("bob")
        [span] = input.message_spans(0, start, len(text), "email")
        self.assertEqual((span.start, span.end), (len("é 😀 mail ".encode()), len(text.encode())))
        self.assertEqual(text.encode()[span.start:span.end].decode(), "bob@example.com")
        # Asked out of order, the answers stay right.
        self.assertEqual(input.message_spans(0, 0, 1, "x")[0].end, 2)
        self.assertEqual(input.message_spans(0, 2, 3, "x")[0].start, 3)

    def test_non_ascii_parts_and_choices(self):
        parts = [{"type": "text", "text": "ünï"}, {"type": "image_url"},
                 {"type": "text", "text": "日本 email"}]
        input = Input("response", chat(parts), {"choices": [
            {"message": {"content": "ça"}},
            {"message": {"content": [{"type": "output_text", "text": "x"},
                                     {"type": "output_text", "text": "€ 5"}]}},
        ]})
        content = input.messages[0].content
        self.assertEqual(content, "ünï\n日本 email")
        self.assertEqual(input.message_spans(0, 1, 6, "x"), [
            Span("/messages/0/content/0/text", 2, 5, "x"),
            Span("/messages/0/content/2/text", 0, 6, "x"),
        ])
        self.assertEqual(input.response_text, "ça\nx\n€ 5")
        start = input.response_text.index("5")
        self.assertEqual(input.response_spans(start, start + 1, "x"),
                         [Span("/choices/1/message/content/1/text", 4, 5, "x")])
        self.assertEqual(input.response_spans(0, 2, "x"),
                         [Span("/choices/0/message/content", 0, 3, "x")])

    def test_many_spans_in_a_long_text(self):
        text = "é" + "name " * 20000
        input = Input("request", chat(text))
        spans = [s for i in range(1, len(text), 5) for s in input.message_spans(0, i, i + 4, "n")]
        self.assertEqual(len(spans), 20000)
        data = text.encode()
        self.assertTrue(all(data[s.start:s.end] == b"name" for s in spans))


class RunTest(unittest.TestCase):
    def test_settings_reach_each_method_typed(self):
        seen = {}

        class Recorder(ClaimsAuditor):
            id = "recorder"

            @claims(phase="request", emits={"x": "boolean"})
            def request(self, input, *, limit: int = 3, names: tuple = ("a",), ratio: float = 0.5):
                seen["request"] = dict(limit=limit, names=names, ratio=ratio,
                                       settings=dict(input.settings))
                return [Claim("x", "boolean", True)]

            @claims(phase="response", emits={"x": "boolean"})
            def response(self, input, *, on: bool = False):
                seen["response"] = {"on": on}
                return []

        run(Recorder, "request", chat("hi"), settings={"limit": 7, "ratio": 1})
        self.assertEqual(seen["request"]["limit"], 7)
        self.assertEqual(seen["request"]["names"], ("a",))
        self.assertIsInstance(seen["request"]["ratio"], float)
        self.assertEqual(seen["request"]["settings"],
                         {"limit": 7, "names": ["a"], "ratio": 1.0, "on": False})
        run(Recorder, "response", chat("hi"), {"choices": []}, settings={"on": True})
        self.assertEqual(seen["response"], {"on": True})
        with self.assertRaisesRegex(TypeError, "unknown setting 'limits'"):
            run(Recorder, "request", chat("hi"), settings={"limits": 1})
        with self.assertRaisesRegex(TypeError, "setting 'limit' is '7'"):
            run(Recorder, "request", chat("hi"), settings={"limit": "7"})
        with self.assertRaisesRegex(ContractError, "does not observe the execution phase"):
            run(Recorder, "execution", chat("hi"), {})

    def test_claims_are_checked_against_the_vocabulary(self):
        def auditor(result, phase="request"):
            class Returns(ClaimsAuditor):
                id = "returns"

                @claims(phase=["request", "execution"], emits={"x": "boolean", "n": "count"})
                def observe(self, input):
                    return result

            return lambda: run(Returns, phase, REQUEST, RESPONSE if phase != "request" else None)

        span = Span("/messages/0/content", 0, 2, "x")
        cases = [
            ([Claim("y", "boolean", True)], "claim 'y' is not declared"),
            ([Claim("x", "count", 1)], "claim 'x' has type count; it is declared as boolean"),
            ([Claim("x", "boolean", True)] * 2, "claim 'x' is returned twice"),
            (None, r"returned None"),
            ([("x", True)], "is not a Claim"),
            ([Claim("x", "boolean", True, spans=[Span("/messages/0/content", 0, 99, "x")])],
             "does not fit its 8 bytes"),
            ([Claim("x", "boolean", True, spans=[Span("/messages/2/content", 0, 1, "x")])],
             "not a string"),
            ([Claim("x", "boolean", True, spans=[Span("/messages/9/content", 0, 1, "x")])],
             "not a string"),
        ]
        for result, pattern in cases:
            with self.subTest(pattern=pattern), self.assertRaisesRegex(ContractError, pattern):
                auditor(result)()
        with self.assertRaisesRegex(ContractError, "spans in the execution phase"):
            auditor([Claim("x", "boolean", True, spans=[span])], "execution")()
        self.assertEqual(auditor(Claim("n", "count", 1))(), [Claim("n", "count", 1)])
        self.assertEqual(auditor([Claim("x", "boolean", True, spans=[span])])()[0].spans, [span])

    def test_a_span_inside_a_character_is_refused(self):
        class Cut(ClaimsAuditor):
            id = "cut"

            @claims(phase="request", emits={"x": "boolean"})
            def request(self, input):
                return [Claim("x", "boolean", True, spans=[Span("/messages/0/content", 0, 1, "x")])]

        with self.assertRaisesRegex(ContractError, "character boundaries"):
            run(Cut, "request", chat("é"))

    def test_headers_and_scope(self):
        class Context(ClaimsAuditor):
            id = "context"

            @claims(phase="request", emits={"where": "string"})
            def request(self, input):
                return [Claim("where", "string", f"{input.header('x-lucid-region')} {input.scope.org} "
                                                 f"{input.request_id}")]

        [claim] = run(Context, "request", "{}", headers={"X-Lucid-Region": "eu"},
                      scope=("acme", "w", "a"), request_id="r1")
        self.assertEqual(claim.value, "eu acme r1")

    def test_exceptions_propagate_natively(self):
        class Boom(ClaimsAuditor):
            id = "boom"

            @claims(phase="request", emits={"x": "boolean"})
            def request(self, input):
                raise KeyError("missing")

        with self.assertRaises(KeyError):
            run(Boom, "request", chat("x"))
        with self.assertRaises(InvalidInput):
            run(Shout, "request", "not json")


def fake_bindings():
    """Stand-ins for the modules componentize-py generates (`wit_world`,
    `componentize_py_types`), shaped like the real ones, to test `export` natively."""
    wit = types.ModuleType("wit_world.imports.types")
    wit.Phase = enum.Enum("Phase", "ARTIFACT REQUEST EXECUTION RESPONSE")
    wit.ClaimType = enum.Enum(
        "ClaimType", "SCORE_NORMALIZED BOOLEAN STRING STRING_LIST COUNT DURATION_MS OBJECT")
    wit.SettingType = enum.Enum("SettingType", "BOOLEAN COUNT NUMBER STRING STRING_LIST")
    for name in ["ClaimValue_ScoreNormalized", "ClaimValue_Boolean", "ClaimValue_String",
                 "ClaimValue_StringList", "ClaimValue_Count", "ClaimValue_DurationMs",
                 "ClaimValue_Object", "SettingValue_Boolean", "SettingValue_Count",
                 "SettingValue_Number", "SettingValue_String", "SettingValue_StringList",
                 "AuditorError_InvalidInput", "AuditorError_Failed"]:
        setattr(wit, name, namedtuple(name, "value"))
    wit.Span = namedtuple("Span", "field start end kind label")
    wit.Claim = namedtuple("Claim", "name value confidence metadata spans")
    wit.ClaimSpec = namedtuple("ClaimSpec", "name type phases description")
    wit.SettingSpec = namedtuple("SettingSpec", "name type default description")
    wit.Vocabulary = namedtuple("Vocabulary", "id version description phases claims settings")
    wit.Scope = namedtuple("Scope", "org workspace agent")
    wit.Setting = namedtuple("Setting", "name value")
    wit.Observation = namedtuple(
        "Observation", "phase request_id scope request response artifacts settings")

    class Err(Exception):
        def __init__(self, value):
            super().__init__(value)
            self.value = value

    runtime = types.ModuleType("componentize_py_types")
    runtime.Err = Err
    world = types.ModuleType("wit_world")
    exports = types.ModuleType("wit_world.exports")
    exports.Auditor = type("Auditor", (), {})
    imports = types.ModuleType("wit_world.imports")
    imports.types = wit
    world.exports, world.imports = exports, imports
    return {"wit_world": world, "wit_world.exports": exports, "wit_world.imports": imports,
            "wit_world.imports.types": wit, "componentize_py_types": runtime}


class ExportTest(unittest.TestCase):
    def test_outside_a_build_export_gives_a_stand_in(self):
        stand_in = export(Shout)
        self.assertIs(stand_in.auditor, Shout)
        with self.assertRaisesRegex(RuntimeError, "only available in the component"):
            stand_in().observe(None)

    def test_the_component_export_converts_and_maps_errors(self):
        modules = fake_bindings()
        saved = {name: sys.modules.get(name) for name in modules}
        streams = sys.stdout, sys.stderr  # export() drops print() output in the component
        sys.modules.update(modules)
        try:
            wit = modules["wit_world.imports.types"]
            Err = modules["componentize_py_types"].Err
            auditor = export(Multi)()
            self.assertTrue(issubclass(export(Multi), modules["wit_world.exports"].Auditor))
            vocabulary = auditor.describe()
            self.assertEqual(vocabulary.id, "multi")
            self.assertEqual(vocabulary.phases,
                             [wit.Phase.REQUEST, wit.Phase.EXECUTION, wit.Phase.RESPONSE])
            self.assertEqual(vocabulary.claims[0],
                             wit.ClaimSpec("risk", wit.ClaimType.SCORE_NORMALIZED,
                                           [wit.Phase.REQUEST, wit.Phase.RESPONSE], "how risky"))
            self.assertEqual(vocabulary.settings[1],
                             wit.SettingSpec("tags", wit.SettingType.STRING_LIST,
                                             wit.SettingValue_StringList(["a"]), ""))

            def observe(phase, request, response=None, settings=()):
                return auditor.observe(wit.Observation(
                    phase, "r1", wit.Scope("o", "w", "a"), request, response, None,
                    [wit.Setting(n, v) for n, v in settings]))

            claims_ = observe(wit.Phase.REQUEST, json.dumps(REQUEST),
                              settings=[("threshold", wit.SettingValue_Number(0.25)),
                                        ("unknown", wit.SettingValue_Count(1))])
            self.assertEqual(claims_[0], wit.Claim(
                "risk", wit.ClaimValue_ScoreNormalized(0.25), 1.0, None, []))
            self.assertEqual(claims_[1].value, wit.ClaimValue_Count(3))

            with self.assertRaises(Err) as raised:
                observe(wit.Phase.REQUEST, "{not json")
            self.assertIsInstance(raised.exception.value, wit.AuditorError_InvalidInput)
            self.assertIn("request is not valid JSON", raised.exception.value.value)

            with self.assertRaises(Err) as raised:
                observe(wit.Phase.REQUEST, "{}", settings=[("threshold", wit.SettingValue_String("x"))])
            self.assertIsInstance(raised.exception.value, wit.AuditorError_InvalidInput)

            boom = export(BoomOnTools)()
            with self.assertRaises(Err) as raised:
                boom.observe(wit.Observation(wit.Phase.REQUEST, "", wit.Scope("", "", ""),
                                             json.dumps(chat("x")), None, None, []))
            failed = raised.exception.value
            self.assertIsInstance(failed, wit.AuditorError_Failed)
            self.assertRegex(failed.value, r"ZeroDivisionError: .* \(at .*test_lucid_auditor.py:\d+ in request\)")

            obj = export(ObjectAuditor)().observe(wit.Observation(
                wit.Phase.RESPONSE, "", wit.Scope("", "", ""), "{}",
                json.dumps({"choices": [{"message": {"content": "é ok"}}]}), None, []))
            self.assertEqual(obj[0], wit.Claim(
                "doc", wit.ClaimValue_Object('{"a":[1]}'), 0.5, '{"m":true}',
                [wit.Span("/choices/0/message/content", 3, 5, "word", "[WORD]")]))
            print("dropped")
            self.assertIsNot(sys.stdout, streams[0])
        finally:
            sys.stdout, sys.stderr = streams
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module


class BoomOnTools(ClaimsAuditor):
    id = "boom"

    @claims(phase="request", emits={"x": "boolean"})
    def request(self, input):
        return [Claim("x", "boolean", 1 / 0 > 0)]


class ObjectAuditor(ClaimsAuditor):
    id = "object"

    @claims(phase="response", emits={"doc": "object"})
    def response(self, input):
        spans = input.response_spans(2, 4, "word", "[WORD]")
        return [Claim("doc", "object", {"a": [1]}, 0.5, {"m": True}, spans)]


class ExampleTest(unittest.TestCase):
    """The shipped blocklist example and the scaffold template, run natively."""

    ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")

    def load(self, path, replacements=()):
        with open(os.path.join(self.ROOT, path), encoding="utf-8") as file:
            source = file.read()
        for old, new in replacements:
            source = source.replace(old, new)
        module = types.ModuleType("app_under_test")
        exec(compile(source, path, "exec"), module.__dict__)
        return module

    def test_blocklist(self):
        app = self.load("guests/python/blocklist/app.py")
        request = chat([{"type": "text", "text": "é Project Nightingale"}, {"type": "image_url"},
                        {"type": "text", "text": "blue harbor, not acme-internals or blue harbors"}])
        flagged, terms, count = run(app.Blocklist, "request", request)
        self.assertEqual((flagged.value, terms.value, count.value),
                         (True, ["project nightingale", "blue harbor"], 2))
        self.assertEqual(flagged.spans, [
            Span("/messages/0/content/0/text", 3, 22, "blocked_term", "[BLOCKED]"),
            Span("/messages/0/content/2/text", 0, 11, "blocked_term", "[BLOCKED]"),
        ])
        quiet = run(app.Blocklist, "request", request,
                    settings={"terms": ["nightingale"], "case_sensitive": True})
        self.assertEqual([c.value for c in quiet], [False, [], 0])
        many = run(app.Blocklist, "request", chat("x " * 2000), settings={"terms": ["x"]})
        self.assertEqual((many[0].spans, many[0].metadata, many[2].value),
                         ([], {"maskable": False}, 2000))

    def test_template(self):
        app = self.load("sdks/python/template/app.py",
                        [("{{id}}", "shout"), ("{{class}}", "Shout")])
        self.assertEqual(app.Shout.vocabulary()["id"], "shout")
        claims_ = run(app.Shout, "request", chat("WHERE IS MY ORDER?", "hello", "OK"))
        self.assertEqual([c.value for c in claims_], [True, 1])
        self.assertEqual(claims_[0].metadata, {"messages": [0]})


if __name__ == "__main__":
    unittest.main()
