// Tests of the JS SDK, run natively: node --test sdks/js/test
import test from "node:test";
import assert from "node:assert/strict";

import {
  AuditorError,
  Claim,
  ClaimsAuditor,
  Input,
  InvalidInput,
  Span,
  claims,
  contentText,
  exportAuditor,
  jsonPointer,
  run,
  utf8Length,
  vocabulary,
} from "../lucid-auditor.js";

class Shout extends ClaimsAuditor {
  static id = "shout";
  static version = "0.1.0";
  static description = "Flags prompts written in capitals.";
  static claims = [
    claims({
      phase: "request",
      emits: { shouting: ["boolean", "a message is all capitals"], letters: "count" },
      settings: { min_letters: [3, "letters needed to judge"] },
    }),
    claims(
      {
        phase: ["response", "execution"],
        emits: { shouting: { type: "boolean" } },
        settings: { ratio: { type: "number", default: 1, description: "share of capitals" } },
      },
      "later",
    ),
  ];

  request(input, { min_letters }) {
    const letters = input.texts().join("").replace(/[^\p{L}]/gu, "");
    const loud = letters.length >= min_letters && letters === letters.toUpperCase();
    return [new Claim("shouting", "boolean", loud), new Claim("letters", "count", letters.length)];
  }

  later(input, settings) {
    return [new Claim("shouting", "boolean", settings.ratio < 1)];
  }
}

const ask = (content) => ({ messages: [{ role: "user", content }] });

// The request and response of the Rust SDK's tests (guests/sdk/src/input.rs).
const REQUEST = {
  model: "gpt-4o",
  messages: [
    { role: "system", content: "be brief" },
    {
      role: "user",
      name: "ann",
      content: [
        { type: "text", text: "look at" },
        { type: "image_url", image_url: { url: "https://example.com/a.png" } },
        { type: "text", text: "this" },
      ],
    },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } }],
    },
    { role: "tool", tool_call_id: "call_1", content: "found x" },
  ],
};
const RESPONSE = {
  id: "chatcmpl-1",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: "here you go",
        tool_calls: [{ id: "call_2", type: "function", function: { name: "send", arguments: { to: "bob" } } }],
      },
    },
    { index: 1, message: { role: "assistant", content: "second choice" } },
  ],
};

function input(phase, request, { response, artifacts } = {}) {
  const text = (v) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));
  return new Input({
    phase,
    requestId: "r1",
    scope: { org: "o", workspace: "w", agent: "a" },
    request: text(request) ?? "",
    response: text(response),
    artifacts: text(artifacts),
    settings: [],
  });
}

// --- vocabulary ---------------------------------------------------------------------------

test("the vocabulary merges methods, phases and settings", () => {
  const v = vocabulary(Shout);
  assert.equal(v.id, "shout");
  assert.deepEqual(v.phases, ["request", "execution", "response"]);
  assert.deepEqual(v.claims, [
    { name: "shouting", type: "boolean", phases: ["request", "execution", "response"], description: "a message is all capitals" },
    { name: "letters", type: "count", phases: ["request"], description: "" },
  ]);
  assert.deepEqual(v.settings, [
    { name: "min_letters", type: "count", default: 3, description: "letters needed to judge" },
    { name: "ratio", type: "number", default: 1, description: "share of capitals" },
  ]);
});

test("setting types follow from the defaults", () => {
  class S extends ClaimsAuditor {
    static id = "s";
    static version = "1.0.0";
    static claims = [
      claims({
        phase: "request",
        emits: { x: "boolean" },
        settings: {
          on: true,
          max: [10, "a count"],
          threshold: [0.5, "a number"],
          mode: ["strict", "a string"],
          tags: [["a", "b"], "a list"],
          none: [[]],
          offset: { type: "number", default: -2 },
        },
      }),
    ];
    request() {
      return [];
    }
  }
  const types = Object.fromEntries(vocabulary(S).settings.map((s) => [s.name, [s.type, s.default]]));
  assert.deepEqual(types, {
    on: ["boolean", true],
    max: ["count", 10],
    threshold: ["number", 0.5],
    mode: ["string", "strict"],
    tags: ["string_list", ["a", "b"]],
    none: ["string_list", []],
    offset: ["number", -2],
  });
  const wit = exportAuditor(S).describe();
  assert.deepEqual(wit.settings.find((s) => s.name === "max").default, { tag: "count", val: 10n });
  assert.deepEqual(wit.settings.find((s) => s.name === "tags"), {
    name: "tags",
    type: "string-list",
    default: { tag: "string-list", val: ["a", "b"] },
    description: "a list",
  });
});

function auditorWith(declarations, methods = {}) {
  const cls = class extends ClaimsAuditor {
    static id = "bad";
    static version = "1.0.0";
    static claims = declarations;
  };
  for (const [name, fn] of Object.entries({ request() {}, response() {}, scan() {}, ...methods })) {
    cls.prototype[name] = fn;
  }
  return cls;
}

test("declaration mistakes are clear errors", () => {
  const cases = [
    [() => vocabulary(auditorWith([claims({ phase: "request" }), claims({ phase: ["request", "response"] }, "scan")])), /request phase is observed by both request\(\) and scan\(\)/],
    [() => vocabulary(auditorWith([claims({ phase: "request", emits: { x: "count" } }), claims({ phase: "response", emits: { x: "boolean" } })])), /claim 'x' is count in request\(\) but boolean in response\(\)/],
    [() => vocabulary(auditorWith([claims({ phase: "request", settings: { n: 1 } }), claims({ phase: "response", settings: { n: 2 } })])), /setting 'n' is declared differently/],
    [() => claims({ phase: "request", emits: { x: "float" } }), /type "float"|type the string "float"/],
    [() => claims({ phase: "requests" }), /unknown phase/],
    [() => claims({ phase: ["request", "response"] }), /needs a name/],
    [() => claims({ phase: "request", emits: { "lucid.x": "boolean" } }), /not starting with 'lucid.'/],
    [() => claims({ phase: "request", settings: { n: -1 } }), /negative integer/],
    [() => claims({ phase: "request", settings: { n: { type: "count", default: 1.5 } } }), /a count setting needs an integer/],
    [() => claims({ phase: "request", settings: { tags: ["a", "b", "c"] } }), /write \[default, description\]/],
    [() => claims({ phase: "request", settings: { x: null } }), /cannot tell its type/],
    [() => vocabulary(auditorWith([claims({ phase: "artifact" })])), /names method artifact\(\), which the class does not define/],
    [() => vocabulary(auditorWith([])), /non-empty array/],
    [() => vocabulary(class extends ClaimsAuditor { static id = "Bad Id"; static version = "1"; }), /static id the string "Bad Id" is invalid/],
    [() => vocabulary(class { static id = "x"; }), /extending ClaimsAuditor/],
  ];
  for (const [fn, message] of cases) assert.throws(fn, message);
});

// --- claims and spans ---------------------------------------------------------------------

test("claims check their values", () => {
  assert.equal(new Claim("a", "score_normalized", 0.25).value, 0.25);
  assert.equal(new Claim("a", "count", 3n).value, 3);
  assert.deepEqual(new Claim("a", "string_list", ["x"]).value, ["x"]);
  for (const [type, value] of [
    ["boolean", 1],
    ["count", true],
    ["count", -1],
    ["count", 1.5],
    ["count", 2 ** 53],
    ["duration_ms", "5"],
    ["score_normalized", 1.01],
    ["score_normalized", Number.NaN],
    ["string", 3],
    ["string_list", ["a", 1]],
    ["object", undefined],
    ["object", { big: 2 ** 60 }],
    ["integer", 1],
  ]) {
    assert.throws(() => new Claim("a", type, value), Error, `${type} ${value}`);
  }
  assert.throws(() => new Claim("a", "boolean", 1), /claim 'a' of type boolean needs true or false, got number 1/);
  assert.throws(() => new Claim("a", "count", true), /needs an integer in 0..2\^53-1, got boolean true/);
  assert.throws(() => new Claim("a", "object", { n: [1, 2 ** 60] }), /integer outside ±\(2\^53-1\) at value.n\[1\]/);
  assert.throws(() => new Claim("a", "boolean", true, { confidence: 2 }), /confidence number 2/);
  assert.throws(() => new Claim("a", "boolean", true, { metadata: { n: 2 ** 60 } }), /metadata.n/);
  assert.throws(() => new Claim("9a", "boolean", true), /claim name/);
});

test("objects and metadata travel as JSON text", () => {
  const claim = new Claim("o", "object", { hits: [1, 2] }, { confidence: 0.5, metadata: { rule: "r" } });
  assert.deepEqual(claim.toWit(), {
    name: "o",
    value: { tag: "object", val: '{"hits":[1,2]}' },
    confidence: 0.5,
    metadata: '{"rule":"r"}',
    spans: [],
  });
  assert.deepEqual(new Claim("n", "duration_ms", 7).toWit().value, { tag: "duration-ms", val: 7 });
  assert.equal(new Claim("b", "boolean", false).toWit().metadata, undefined);
  assert.ok(Object.isFrozen(claim));
});

test("spans check their form", () => {
  const span = new Span("/messages/0/content", 0, 3, "email", "[EMAIL]");
  assert.deepEqual({ ...span }, { field: "/messages/0/content", start: 0, end: 3, kind: "email", label: "[EMAIL]" });
  assert.throws(() => new Span("messages/0", 0, 1, "x"), /not a JSON pointer/);
  assert.throws(() => new Span("/m", 2, 2, "x"), /empty or reversed/);
  assert.throws(() => new Span("/m", -1, 2, "x"), /not a byte offset/);
  assert.throws(() => new Span("/m", 0, 1, "Email"), /not a kind name/);
  assert.throws(() => new Span("/m", 0, 1, "x", "email"), /not a label/);
  assert.throws(() => new Span("/m", 0, 1, "x", "[e]"), /not a label/);
  const plain = new Claim("a", "boolean", true, { spans: [{ field: "/m", start: 0, end: 1, kind: "x" }] });
  assert.ok(plain.spans[0] instanceof Span);
  const many = Array.from({ length: 4097 }, () => span);
  assert.throws(() => new Claim("a", "boolean", true, { spans: many }), /4097 spans; at most 4096/);
});

test("json pointers and UTF-8 lengths", () => {
  assert.equal(jsonPointer("messages", 1, "content"), "/messages/1/content");
  assert.equal(jsonPointer("a/b", "c~d"), "/a~1b/c~0d");
  assert.equal(utf8Length("aé€😀"), 1 + 2 + 3 + 4);
  assert.equal(utf8Length("\ud800"), 3, "a lone surrogate is written as U+FFFD");
});

// --- input --------------------------------------------------------------------------------

test("messages are flattened to text", () => {
  const i = input("request", REQUEST);
  assert.equal(i.messages.length, 4);
  assert.equal(i.messages[0].role, "system");
  assert.equal(i.messages[1].content, "look at\nthis");
  assert.equal(i.messages[1].name, "ann");
  assert.equal(i.messages[1].untrusted, true);
  assert.equal(i.messages[0].untrusted, false);
  assert.equal(i.messages[2].content, "");
  assert.equal(i.messages[3].role, "tool");
  assert.deepEqual(i.texts(), ["be brief", "look at\nthis", "found x"]);
  assert.equal(i.responseText, undefined);
  assert.equal(i.request.model, "gpt-4o");
  assert.equal(i.requestId, "r1");
  assert.deepEqual(i.scope, { org: "o", workspace: "w", agent: "a" });
  assert.equal(contentText([{ type: "output_text", text: "a" }, { type: "text", text: "b" }]), "a\nb");
});

test("tool calls come from the request and the response", () => {
  const i = input("execution", REQUEST, { response: RESPONSE });
  assert.equal(i.toolCalls.length, 2);
  assert.deepEqual(i.toolCalls[0], {
    id: "call_1",
    name: "lookup",
    arguments: '{"q":"x"}',
    origin: "request",
    message: 2,
    pointer: "/messages/2/tool_calls/0/function/arguments",
  });
  assert.equal(i.toolCalls[1].name, "send");
  assert.equal(i.toolCalls[1].arguments, '{"to":"bob"}');
  assert.equal(i.toolCalls[1].origin, "response");
  assert.equal(i.toolCalls[1].choice, 0);
  assert.deepEqual(i.texts(), ['{"q":"x"}', '{"to":"bob"}']);
  const legacy = input("request", { messages: [{ role: "assistant", function_call: { name: "f", arguments: "{}" } }] });
  assert.equal(legacy.toolCalls[0].name, "f");
  assert.equal(legacy.toolCalls[0].pointer, "/messages/0/function_call/arguments");
});

test("the response text joins the choices", () => {
  const i = input("response", REQUEST, { response: RESPONSE });
  assert.equal(i.responseText, "here you go\nsecond choice");
  assert.deepEqual(i.responseTexts(), ["here you go", "second choice"]);
  assert.deepEqual(i.texts(), ["here you go\nsecond choice"]);
  assert.equal(i.response.id, "chatcmpl-1");
  assert.deepEqual(input("response", {}, { response: { choices: [] } }).texts(), []);
});

test("malformed bodies are invalid input", () => {
  for (const body of ["{not json", "[1, 2]", '{"messages": "hi"}', '{"messages": ["hi"]}', ""]) {
    assert.throws(() => input("request", body), InvalidInput, body);
  }
  assert.throws(() => input("response", "{}", { response: "nope" }), InvalidInput);
  assert.throws(() => input("response", "{}", { response: "[]" }), /response is not a JSON object/);
  assert.deepEqual(input("artifact", "").messages, []);
  assert.equal(input("artifact", " ").request, null);
});

test("headers come from the exchange context, never in the artifact phase", () => {
  const context = { headers: { "x-lucid-region": "eu-west-1", "x-lucid-n": 3 } };
  const i = input("request", {}, { artifacts: context });
  assert.equal(i.header("x-lucid-region"), "eu-west-1");
  assert.equal(i.header("X-Lucid-Region"), "eu-west-1");
  assert.equal(i.header("x-lucid-n"), undefined, "not a string");
  assert.equal(i.artifacts.headers["x-lucid-n"], 3);
  assert.deepEqual(input("request", {}, { artifacts: { headers: ["x"] } }).headers, {});
  const artifact = input("artifact", "", { artifacts: { plugin_set_hash: "ab", headers: { "x-lucid-region": "eu" } } });
  assert.equal(artifact.header("x-lucid-region"), undefined);
  assert.equal(artifact.artifacts.plugin_set_hash, "ab");
});

test("spans point at the strings the SDK flattened", () => {
  const i = input("request", REQUEST, { response: RESPONSE });
  const plain = (spans) => spans.map((s) => [s.field, s.start, s.end]);
  // Message 1 is "look at\nthis" from parts 0 and 2: a range over the join is split.
  assert.deepEqual(plain(i.messageSpans(1, 5, 12, "x")), [
    ["/messages/1/content/0/text", 5, 7],
    ["/messages/1/content/2/text", 0, 4],
  ]);
  assert.deepEqual(plain(i.messageSpans(0, 0, 2, "x")), [["/messages/0/content", 0, 2]]);
  assert.deepEqual(i.messageSpans(0, 0, 99, "x"), []);
  assert.deepEqual(i.messageSpans(0, 2, 2, "x"), []);
  assert.deepEqual(i.messageSpans(9, 0, 1, "x"), []);
  // "here you go\nsecond choice": the second choice starts at 12.
  assert.deepEqual(plain(i.responseSpans(12, 18, "x")), [["/choices/1/message/content", 0, 6]]);
  assert.deepEqual(plain(i.toolCallSpans(0, 2, 3, "x")), [["/messages/2/tool_calls/0/function/arguments", 2, 3]]);
  assert.deepEqual(i.toolCallSpans(1, 0, 2, "x"), [], "inline object arguments cannot be masked");
  const labelled = i.messageSpans(0, 0, 2, "word", "[WORD]");
  assert.equal(labelled[0].label, "[WORD]");
});

test("span offsets are UTF-8 bytes and never cut a character", () => {
  const text = "é mail 😀 bob@x.io";
  const i = input("request", ask(text));
  const at = text.indexOf("bob");
  const [span] = i.messageSpans(0, at, text.length, "email");
  assert.equal(span.start, Buffer.byteLength(text.slice(0, at)));
  assert.equal(span.end, Buffer.byteLength(text));
  assert.equal(Buffer.from(text).subarray(span.start, span.end).toString(), "bob@x.io");
  const emoji = text.indexOf("😀");
  assert.deepEqual(i.messageSpans(0, emoji, emoji + 1, "x"), [], "half an emoji");
  assert.deepEqual(i.messageSpans(0, emoji + 1, emoji + 2, "x"), []);
  assert.equal(i.messageSpans(0, emoji, emoji + 2, "x")[0].end - i.messageSpans(0, emoji, emoji + 2, "x")[0].start, 4);
  assert.deepEqual(i.messageSpans(0, 0.5, 2, "x"), []);
  // Spans proposed out of order are still right (the byte cursor restarts).
  const parts = input("request", { messages: [{ role: "user", content: [{ type: "text", text: "ééé" }, { type: "text", text: "ü ü" }] }] });
  const starts = [[6, 7], [2, 3], [1, 2], [4, 5]].map(([a, b]) => parts.messageSpans(0, a, b, "x")[0].start);
  assert.deepEqual(starts, [3, 4, 2, 0]);
});

// --- the component's export ---------------------------------------------------------------

const observation = (over = {}) => ({
  phase: "request",
  requestId: "r",
  scope: { org: "", workspace: "", agent: "" },
  request: JSON.stringify(ask("HELLO THERE")),
  response: undefined,
  artifacts: undefined,
  settings: [{ name: "min_letters", value: { tag: "count", val: 99n } }],
  ...over,
});

test("the export speaks the WIT shapes", () => {
  const auditor = exportAuditor(Shout);
  const described = auditor.describe();
  assert.deepEqual(described.phases, ["request", "execution", "response"]);
  assert.deepEqual(described.claims[1], { name: "letters", type: "count", phases: ["request"], description: "" });
  assert.deepEqual(described.settings[1].default, { tag: "number", val: 1 });
  const result = auditor.observe(observation());
  assert.equal(result.tag, "ok");
  assert.deepEqual(result.val[0], { name: "shouting", value: { tag: "boolean", val: false }, confidence: 1, metadata: undefined, spans: [] });
  assert.deepEqual(result.val[1].value, { tag: "count", val: 10 });
  const defaults = auditor.observe(observation({ settings: [] }));
  assert.equal(defaults.val[0].value.val, true, "min_letters defaults to 3");
});

test("errors become auditor errors", () => {
  const auditor = exportAuditor(Shout);
  assert.deepEqual(auditor.observe(observation({ request: "{nope" })).val.tag, "invalid-input");
  assert.match(auditor.observe(observation({ request: "{nope" })).val.val, /^request is not valid JSON/);
  const wrongType = auditor.observe(observation({ settings: [{ name: "min_letters", value: { tag: "number", val: 1 } }] }));
  assert.deepEqual(wrongType.val, { tag: "invalid-input", val: "setting 'min_letters' is a number; the auditor declares a count" });

  const failing = (body) =>
    exportAuditor(
      class extends Shout {
        request(i, s) {
          return body.call(this, i, s);
        }
      },
    ).observe(observation());
  assert.deepEqual(failing(() => { throw new Error("boom"); }).val, { tag: "failed", val: "boom" });
  assert.deepEqual(failing(() => { throw new InvalidInput("bad shape"); }).val, { tag: "invalid-input", val: "bad shape" });
  assert.deepEqual(failing(() => { throw "plain"; }).val, { tag: "failed", val: "plain" });
  assert.match(failing((i) => i.nothing.here).val.val, /^TypeError: /);
  assert.match(failing(() => [new Claim("other", "boolean", true)]).val.val, /emitted claim 'other', which no claims\(\) declaration emits/);
  assert.match(failing(() => [new Claim("letters", "string", "x")]).val.val, /of type string; it is declared count/);
  assert.match(failing(() => [new Claim("shouting", "boolean", true), new Claim("shouting", "boolean", false)]).val.val, /twice/);
  assert.match(failing(() => [{ name: "shouting", type: "boolean", value: true }]).val.val, /expected new Claim/);
  assert.match(failing(() => "x").val.val, /expected an array of Claim/);
  assert.match(failing(async () => []).val.val, /synchronous/);
  assert.equal(failing(() => undefined).tag, "ok");
  // letters is declared for the request phase only.
  const late = exportAuditor(
    class extends Shout {
      later() {
        return [new Claim("letters", "count", 1)];
      }
    },
  );
  const response = late.observe(observation({ phase: "response", response: JSON.stringify(RESPONSE), settings: [] }));
  assert.match(response.val.val, /in the response phase; it is declared for request/);
});

// --- run ----------------------------------------------------------------------------------

test("run calls the auditor like the host", () => {
  const byName = (list) => Object.fromEntries(list.map((c) => [c.name, c.value]));
  assert.deepEqual(byName(run(Shout, "request", ask("HEY YOU"))), { shouting: true, letters: 6 });
  assert.deepEqual(byName(run(Shout, "request", ask("HEY YOU"), { settings: { min_letters: 7 } })), { shouting: false, letters: 6 });
  assert.deepEqual(byName(run(Shout, "response", ask("x"), { response: RESPONSE, settings: { ratio: 0.5 } })), { shouting: true });
  assert.throws(() => run(Shout, "request", ask("x"), { settings: { min: 1 } }), /no setting 'min' \(its settings: min_letters, ratio\)/);
  assert.throws(() => run(Shout, "request", ask("x"), { settings: { min_letters: "3" } }), /a count setting needs an integer/);
  assert.throws(() => run(Shout, "artifact", ""), /does not observe the artifact phase/);
  const error = (() => {
    try {
      run(Shout, "request", "{nope");
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof AuditorError);
  assert.equal(error.kind, "invalid-input");
});

test("run passes headers as the exchange context", () => {
  class Region extends ClaimsAuditor {
    static id = "region";
    static version = "0.1.0";
    static claims = [claims({ phase: "request", emits: { region: "string" } })];
    request(i) {
      return [new Claim("region", "string", i.header("x-lucid-region") ?? "unknown")];
    }
  }
  assert.equal(run(Region, "request", {}, { headers: { "X-Lucid-Region": "eu" } })[0].value, "eu");
  assert.equal(run(Region, "request", {})[0].value, "unknown");
});
