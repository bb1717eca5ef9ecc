// Lucid auditor SDK for JavaScript: write an auditor as a class, build it into a WebAssembly
// component of the `lucid:auditor@0.2.0` world (wit/auditor/auditor.wit) with componentize-js.
//
// One self-contained ES module with no dependencies: `lucid auditor init --lang js` copies it
// into the project, which imports it as "./lucid-auditor.js". Types: lucid-auditor.d.ts.
//
//   import { ClaimsAuditor, Claim, claims, exportAuditor } from "./lucid-auditor.js";
//
//   class Shout extends ClaimsAuditor {
//     static id = "shout";
//     static version = "0.1.0";
//     static description = "Flags prompts written in capitals.";
//     static claims = [
//       claims({
//         phase: "request",
//         emits: { shouting: ["boolean", "a message is all capitals"] },
//         settings: { min_letters: [3, "letters needed to judge"] },
//       }), // the method is named after its phase: request(input, settings)
//     ];
//     request(input, { min_letters }) {
//       const loud = input.texts().some((t) => t.length >= min_letters && t === t.toUpperCase());
//       return [new Claim("shouting", "boolean", loud)];
//     }
//   }
//   export const auditor = exportAuditor(Shout);   // the component's export; must be `auditor`
//
// The module runs once when the component is built (pre-initialized by Wizer): everything at
// top level, the vocabulary included, is computed then, and declaration mistakes fail the
// build. Each call then runs in a fresh instance with no WASI granted: no clock, no randomness,
// no stdio, no network. Keep no state between calls.

/** The phases of an exchange, in the order they happen. */
export const PHASES = Object.freeze(["artifact", "request", "execution", "response"]);

/** The seven claim types (their names are a public contract). */
export const CLAIM_TYPES = Object.freeze([
  "score_normalized",
  "boolean",
  "string",
  "string_list",
  "count",
  "duration_ms",
  "object",
]);

/** The setting types. */
export const SETTING_TYPES = Object.freeze(["boolean", "count", "number", "string", "string_list"]);

/** At most this many spans per claim. */
export const MAX_SPANS_PER_CLAIM = 4096;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const ID_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const CLAIM_NAME_RE = /^[A-Za-z][A-Za-z0-9_.]{0,127}$/;
const SETTING_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const KIND_RE = /^[a-z0-9_]{1,32}$/;
const LABEL_RE = /^\[[A-Z0-9_\- ]{1,62}\]$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Throw this when the observation cannot be understood; the host gets `invalid-input`. Any
 * other thrown value becomes `failed` with its message.
 */
export class InvalidInput extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidInput";
  }
}

/**
 * What `run` throws when the auditor returned an error: `kind` is "failed" or "invalid-input",
 * as the host would have received it.
 */
export class AuditorError extends Error {
  constructor(kind, message) {
    super(`${kind}: ${message}`);
    this.name = "AuditorError";
    this.kind = kind;
    this.detail = message;
  }
}

function describeValue(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------------------------
// UTF-8 byte offsets and JSON pointers

/** The length in UTF-8 bytes of `text` (as the host measures it). */
export function utf8Length(text) {
  return utf8Between(text, 0, text.length);
}

// UTF-8 bytes of text[from..to) (UTF-16 indices). A lone surrogate counts as U+FFFD (3 bytes),
// as TextEncoder writes it.
function utf8Between(text, from, to) {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && isLow(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLow(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

// Whether UTF-16 index i of text falls between the two halves of a surrogate pair.
function splitsPair(text, i) {
  if (i <= 0 || i >= text.length || !isLow(text.charCodeAt(i))) return false;
  const before = text.charCodeAt(i - 1);
  return before >= 0xd800 && before <= 0xdbff;
}

/** An RFC 6901 JSON pointer from its reference tokens: `jsonPointer("messages", 1, "content")`. */
export function jsonPointer(...tokens) {
  return tokens.map((t) => "/" + String(t).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

// Where the pieces of a flattened text come from: per piece, its pointer, its start in the
// flattened text (UTF-16 index) and its text. Converts ranges of the flattened text into spans
// of the pieces, in UTF-8 bytes; a cursor per piece makes spans proposed in order linear.
class Segments {
  constructor(pieces = []) {
    this.pieces = pieces; // [{ pointer, start, text, cursor: [index, bytes] }]
  }

  add(pointer, start, text) {
    this.pieces.push({ pointer, start, text, cursor: [0, 0] });
  }

  spans(flat, start, end, kind, label) {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      start >= end ||
      end > flat.length ||
      splitsPair(flat, start) ||
      splitsPair(flat, end)
    ) {
      return [];
    }
    const spans = [];
    for (const piece of this.pieces) {
      const from = Math.max(start, piece.start);
      const to = Math.min(end, piece.start + piece.text.length);
      if (from >= to) continue;
      const a = bytesAt(piece, from - piece.start);
      const b = a + utf8Between(piece.text, from - piece.start, to - piece.start);
      spans.push(new Span(piece.pointer, a, b, kind, label));
    }
    return spans;
  }
}

function bytesAt(piece, index) {
  let [at, bytes] = piece.cursor;
  if (index < at) [at, bytes] = [0, 0];
  bytes += utf8Between(piece.text, at, index);
  piece.cursor = [index, bytes];
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Span and Claim

/**
 * A piece of the observed text a claim is about, which a policy may ask the gateway to mask.
 * `field` is an RFC 6901 pointer to a string of the observed request (request phase) or
 * response (response phase); `start`/`end` are UTF-8 byte offsets into it. Usually made by
 * `input.messageSpans`, `input.responseSpans` or `input.toolCallSpans`, which convert JS string
 * indices into bytes.
 */
export class Span {
  constructor(field, start, end, kind, label = undefined) {
    if (
      typeof field !== "string" ||
      !field.startsWith("/") ||
      utf8Length(field) > 256 ||
      CONTROL_RE.test(field)
    ) {
      throw new TypeError(
        `span field ${describeValue(field)} is not a JSON pointer (expected '/…', at most 256 bytes)`,
      );
    }
    for (const [what, n] of [["start", start], ["end", end]]) {
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
        throw new TypeError(`span ${what} ${describeValue(n)} is not a byte offset (an integer >= 0)`);
      }
    }
    if (start >= end) {
      throw new RangeError(`span ${start}..${end} is empty or reversed (expected start < end)`);
    }
    if (typeof kind !== "string" || !KIND_RE.test(kind)) {
      throw new TypeError(
        `span kind ${describeValue(kind)} is not a kind name (1 to 32 lowercase letters, digits or '_')`,
      );
    }
    if (label !== undefined && label !== null && (typeof label !== "string" || !LABEL_RE.test(label))) {
      throw new TypeError(
        `span label ${describeValue(label)} is not a label ('[' then capital letters, digits, '_', '-' or spaces, then ']', e.g. [EMAIL])`,
      );
    }
    this.field = field;
    this.start = start;
    this.end = end;
    this.kind = kind;
    this.label = label ?? undefined;
    Object.freeze(this);
  }
}

// An integer JSON cannot carry safely (the host refuses them in objects and metadata).
function unsafeIntegerPath(value, path, depth = 0) {
  if (depth > 200) return undefined;
  if (typeof value === "number") {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unsafeIntegerPath(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    for (const key of Object.keys(value)) {
      const found = unsafeIntegerPath(value[key], `${path}.${key}`, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

function jsonText(value, what) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${what} cannot be written as JSON: ${error.message}`);
  }
  if (text === undefined) {
    throw new TypeError(`${what} cannot be written as JSON (${describeValue(value)})`);
  }
  const unsafe = unsafeIntegerPath(value, what.split(" ").pop());
  if (unsafe) throw new RangeError(`${what} has an integer outside ±(2^53-1) at ${unsafe}`);
  return text;
}

function checkValue(name, type, value) {
  const wrong = (expected) =>
    new TypeError(`claim '${name}' of type ${type} needs ${expected}, got ${describeValue(value)}`);
  switch (type) {
    case "score_normalized":
      if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
        throw wrong("a number in 0..1");
      }
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw wrong("true or false");
      return value;
    case "string":
      if (typeof value !== "string") throw wrong("a string");
      return value;
    case "string_list":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw wrong("an array of strings");
      }
      return [...value];
    case "count":
    case "duration_ms": {
      const n = typeof value === "bigint" && value >= 0n && value <= BigInt(MAX_SAFE) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
        throw wrong("an integer in 0..2^53-1");
      }
      return n;
    }
    case "object":
      return value;
    default:
      throw new TypeError(
        `claim '${name}' has type ${describeValue(type)}; expected one of ${CLAIM_TYPES.join(", ")}`,
      );
  }
}

/**
 * One observation about the exchange. `type` is one of CLAIM_TYPES; `value` must fit it
 * (`score_normalized` a number in 0..1, `count`/`duration_ms` an integer >= 0, `object` any
 * JSON value, sent as JSON text). `metadata` is any JSON value (it ends up in receipts: never
 * put the sensitive content itself there). `spans` are Spans the claim is about.
 */
export class Claim {
  #valueJson;
  #metadataJson;

  constructor(name, type, value, { confidence = 1, metadata = undefined, spans = [] } = {}) {
    if (typeof name !== "string" || !CLAIM_NAME_RE.test(name)) {
      throw new TypeError(
        `claim name ${describeValue(name)} is invalid (a letter, then letters, digits, '_' or '.'; at most 128)`,
      );
    }
    this.name = name;
    this.type = type;
    this.value = checkValue(name, type, value);
    if (type === "object") this.#valueJson = jsonText(value, `claim '${name}' value`);
    if (typeof confidence !== "number" || !(confidence >= 0 && confidence <= 1)) {
      throw new RangeError(
        `claim '${name}' has confidence ${describeValue(confidence)}; expected a number in 0..1`,
      );
    }
    this.confidence = confidence;
    this.metadata = metadata ?? undefined;
    if (this.metadata !== undefined) {
      this.#metadataJson = jsonText(this.metadata, `claim '${name}' metadata`);
    }
    if (!Array.isArray(spans)) {
      throw new TypeError(`claim '${name}': spans must be an array of Span, got ${describeValue(spans)}`);
    }
    if (spans.length > MAX_SPANS_PER_CLAIM) {
      throw new RangeError(
        `claim '${name}' has ${spans.length} spans; at most ${MAX_SPANS_PER_CLAIM} are allowed (propose all or none)`,
      );
    }
    this.spans = spans.map((s) =>
      s instanceof Span ? s : new Span(s?.field, s?.start, s?.end, s?.kind, s?.label),
    );
    Object.freeze(this.spans);
    Object.freeze(this);
  }

  /** The claim as the WIT `claim` record (what the component returns to the host). */
  toWit() {
    const tag = this.type.replace(/_/g, "-");
    const val = this.type === "object" ? this.#valueJson : this.value;
    return {
      name: this.name,
      value: { tag, val },
      confidence: this.confidence,
      metadata: this.#metadataJson,
      spans: this.spans.map((s) => ({
        field: s.field,
        start: s.start,
        end: s.end,
        kind: s.kind,
        label: s.label,
      })),
    };
  }

  /** The claim's JSON form, as `lucid auditor test` prints it. */
  toJSON() {
    const json = {
      name: this.name,
      type: this.type,
      value: this.value,
      confidence: this.confidence,
      metadata: this.metadata ?? null,
    };
    if (this.spans.length) json.spans = this.spans;
    return json;
  }
}

// ---------------------------------------------------------------------------------------------
// Input

function parseJson(what, text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidInput(`${what} is not valid JSON: ${error.message}`);
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const TEXT_PART_TYPES = new Set(["text", "input_text", "output_text"]);

// OpenAI `content` flattened to text: a string, or the text parts of an array joined with "\n".
function contentSegments(content, base) {
  const segments = new Segments();
  if (typeof content === "string") {
    segments.add(`${base}/content`, 0, content);
    return [content, segments];
  }
  if (!Array.isArray(content)) return ["", segments];
  let flat = "";
  content.forEach((part, k) => {
    if (!isObject(part) || typeof part.text !== "string" || !TEXT_PART_TYPES.has(part.type)) return;
    if (segments.pieces.length) flat += "\n";
    segments.add(`${base}/content/${k}/text`, flat.length, part.text);
    flat += part.text;
  });
  return [flat, segments];
}

/**
 * OpenAI `content` flattened as `message.content` and `input.responseText` have it: a string,
 * or the text parts of an array joined with "\n" (images and other parts skipped).
 */
export function contentText(content) {
  return contentSegments(content, "")[0];
}

function argumentsText(args) {
  if (args === undefined || args === null) return "";
  if (typeof args === "string") return args;
  return JSON.stringify(args);
}

function collectToolCalls(message, origin, index, out) {
  const base = origin === "request" ? `/messages/${index}` : `/choices/${index}/message`;
  const where = origin === "request" ? { message: index } : { choice: index };
  const push = (fn, id, pointer) => {
    const f = isObject(fn) ? fn : {};
    out.push(
      Object.freeze({
        id: typeof id === "string" ? id : undefined,
        name: typeof f.name === "string" ? f.name : "",
        arguments: argumentsText(f.arguments),
        origin,
        ...where,
        // The pointer of the arguments when they are a string (only then can they be masked).
        pointer: typeof f.arguments === "string" ? pointer : undefined,
      }),
    );
  };
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((call, i) => {
      const c = isObject(call) ? call : {};
      push(c.function, c.id, `${base}/tool_calls/${i}/function/arguments`);
    });
  }
  // The deprecated single `function_call` field.
  if (isObject(message.function_call)) {
    push(message.function_call, undefined, `${base}/function_call/arguments`);
  }
}

const UNTRUSTED_ROLES = new Set(["user", "tool", "function"]);

/**
 * What an auditor observes in one phase of one exchange, with the chat exchange parsed.
 *
 * - `phase`, `requestId`, `scope` ({org, workspace, agent}), `settings` (typed, defaults filled);
 * - `request` (the parsed chat-completions request; null in the artifact phase without one),
 *   `response` (parsed, in the execution and response phases; else undefined), `artifacts`
 *   (the artifact descriptor in the artifact phase, the exchange context in the others);
 * - `headers` (the request's x-lucid-* headers, names lowercase; {} in the artifact phase) and
 *   `header(name)`;
 * - `messages`: [{index, role, content, name, untrusted}] with array-of-parts content flattened;
 * - `toolCalls`: [{id, name, arguments, origin: "request"|"response", message | choice}];
 * - `responseText` (choices' content joined with "\n"; undefined without a response);
 * - `texts()`, `responseTexts()`, and span helpers `messageSpans`, `responseSpans`,
 *   `toolCallSpans` (JS string indices in, UTF-8 byte spans out).
 */
export class Input {
  #messageSegments = [];
  #responseSegments = new Segments();
  #responseTexts = [];

  /**
   * Builds an input from a WIT `observation` (the host's), as the component does. Throws
   * InvalidInput when a body is not JSON or not shaped like a chat exchange.
   */
  constructor(observation) {
    const o = observation ?? {};
    const phase = o.phase;
    if (!PHASES.includes(phase)) throw new InvalidInput(`unknown phase ${describeValue(phase)}`);
    this.phase = phase;
    this.requestId = typeof o.requestId === "string" ? o.requestId : "";
    const scope = isObject(o.scope) ? o.scope : {};
    this.scope = Object.freeze({
      org: String(scope.org ?? ""),
      workspace: String(scope.workspace ?? ""),
      agent: String(scope.agent ?? ""),
    });
    this.settings = {};

    const requestText = typeof o.request === "string" ? o.request : "";
    if (phase === "artifact" && requestText.trim() === "") {
      this.request = null;
    } else {
      this.request = parseJson("request", requestText);
      if (!isObject(this.request)) {
        throw new InvalidInput("request is not a JSON object; expected a chat-completions request");
      }
    }

    this.messages = [];
    this.toolCalls = [];
    const entries = this.request?.messages;
    if (entries !== undefined && entries !== null) {
      if (!Array.isArray(entries)) throw new InvalidInput("request field 'messages' is not an array");
      entries.forEach((entry, index) => {
        if (!isObject(entry)) throw new InvalidInput(`request message ${index} is not a JSON object`);
        const [content, segments] = contentSegments(entry.content, `/messages/${index}`);
        const role = typeof entry.role === "string" ? entry.role : "";
        this.messages.push(
          Object.freeze({
            index,
            role,
            content,
            name: typeof entry.name === "string" ? entry.name : undefined,
            untrusted: UNTRUSTED_ROLES.has(role),
          }),
        );
        this.#messageSegments.push([content, segments]);
        collectToolCalls(entry, "request", index, this.toolCalls);
      });
    }

    this.response = undefined;
    this.responseText = undefined;
    if (typeof o.response === "string") {
      this.response = parseJson("response", o.response);
      if (!isObject(this.response)) {
        throw new InvalidInput("response is not a JSON object; expected a chat completion");
      }
      let flat = "";
      const choices = Array.isArray(this.response.choices) ? this.response.choices : [];
      choices.forEach((entry, choice) => {
        if (!isObject(entry) || !("message" in entry)) return;
        const message = isObject(entry.message) ? entry.message : {};
        const [text, segments] = contentSegments(message.content, `/choices/${choice}/message`);
        if (text !== "") {
          if (this.#responseTexts.length) flat += "\n";
          for (const piece of segments.pieces) {
            this.#responseSegments.add(piece.pointer, piece.start + flat.length, piece.text);
          }
          this.#responseTexts.push(text);
          flat += text;
        }
        collectToolCalls(message, "response", choice, this.toolCalls);
      });
      this.responseText = flat;
    }

    this.artifacts = typeof o.artifacts === "string" ? parseJson("artifacts", o.artifacts) : undefined;
    const headers = {};
    if (phase !== "artifact" && isObject(this.artifacts) && isObject(this.artifacts.headers)) {
      for (const [name, value] of Object.entries(this.artifacts.headers)) {
        if (typeof value === "string") headers[name.toLowerCase()] = value;
      }
    }
    this.headers = Object.freeze(headers);
    Object.freeze(this.messages);
    Object.freeze(this.toolCalls);
  }

  /** A request header passed as exchange context (x-lucid-*), by case-insensitive name. */
  header(name) {
    return this.headers[String(name).toLowerCase()];
  }

  /**
   * The non-empty texts to scan in `phase` (default: this phase): every message's content in
   * the request phase, tool-call arguments in the execution phase, the response text in the
   * response phase, nothing in the artifact phase.
   */
  texts(phase = this.phase) {
    let texts = [];
    if (phase === "request") texts = this.messages.map((m) => m.content);
    else if (phase === "execution") texts = this.toolCalls.map((c) => c.arguments);
    else if (phase === "response" && this.responseText !== undefined) texts = [this.responseText];
    return texts.filter((t) => t !== "");
  }

  /** The non-empty text of each choice of the response, in order (joined: `responseText`). */
  responseTexts() {
    return [...this.#responseTexts];
  }

  /**
   * Spans of `messages[index].content` from JS string index `start` to `end` (as given by
   * String#indexOf, RegExp match.index...), addressed in the request in UTF-8 bytes: one per
   * text part the range touches. Empty when the message or range does not exist or the range
   * cuts a character in two.
   */
  messageSpans(index, start, end, kind, label = undefined) {
    const entry = this.#messageSegments[index];
    return entry ? entry[1].spans(entry[0], start, end, kind, label) : [];
  }

  /** Spans of `responseText` from index `start` to `end`: one per choice (or part) touched. */
  responseSpans(start, end, kind, label = undefined) {
    if (this.responseText === undefined) return [];
    return this.#responseSegments.spans(this.responseText, start, end, kind, label);
  }

  /**
   * Spans of `toolCalls[index].arguments` from index `start` to `end`. Empty when the
   * arguments were not given as a string (an inline object cannot be masked in place).
   */
  toolCallSpans(index, start, end, kind, label = undefined) {
    const call = this.toolCalls[index];
    if (!call || call.pointer === undefined) return [];
    return new Segments([{ pointer: call.pointer, start: 0, text: call.arguments, cursor: [0, 0] }]).spans(
      call.arguments,
      start,
      end,
      kind,
      label,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Declaring an auditor

/**
 * Declares one observing method: the phase(s) it handles, the claims it may emit and the
 * settings it reads. Put the result in the class's `static claims` array.
 *
 *   claims({ phase: "request", emits: {...}, settings: {...} })            // method request()
 *   claims({ phase: ["request", "response"], emits: {...} }, "scan")        // method scan()
 *
 * - `phase`: a phase name or a list of them (PHASES).
 * - `emits`: { claim_name: type } or { claim_name: [type, description] } or
 *   { claim_name: { type, description } }, type one of CLAIM_TYPES.
 * - `settings`: { name: [default, description] } or { name: default } (not a list) or
 *   { name: { type, default, description } }; a list default is written [["a", "b"], "..."].
 *   The type follows from the default (boolean;
 *   integer >= 0: count; other number: number; string; array of strings: string_list) or is
 *   given (say, `{ type: "number", default: 1 }` for a float whose default is whole).
 * - `method`: the name of the method called with (input, settings); default: the phase's name
 *   when there is one phase.
 */
export function claims(spec, method = undefined) {
  if (!isObject(spec)) throw new TypeError(`claims(spec): spec must be an object, got ${describeValue(spec)}`);
  const phases = typeof spec.phase === "string" ? [spec.phase] : spec.phase;
  if (!Array.isArray(phases) || phases.length === 0) {
    throw new TypeError(`claims(): phase must be a phase name or a non-empty list of them (${PHASES.join(", ")})`);
  }
  for (const phase of phases) {
    if (!PHASES.includes(phase)) {
      throw new TypeError(`claims(): unknown phase ${describeValue(phase)}; expected one of ${PHASES.join(", ")}`);
    }
  }
  if (method === undefined) {
    if (phases.length !== 1) {
      throw new TypeError(
        `claims(): a method observing several phases (${phases.join(", ")}) needs a name: claims({...}, "methodName")`,
      );
    }
    method = phases[0];
  }
  if (typeof method !== "string" || method === "") {
    throw new TypeError(`claims(): method must be a method name, got ${describeValue(method)}`);
  }
  const emits = spec.emits ?? {};
  if (!isObject(emits)) throw new TypeError(`claims() for ${method}(): emits must be an object of claim declarations`);
  const claimSpecs = Object.entries(emits).map(([name, decl]) => claimDeclaration(method, name, decl));
  const settings = spec.settings ?? {};
  if (!isObject(settings)) throw new TypeError(`claims() for ${method}(): settings must be an object of setting declarations`);
  const settingSpecs = Object.entries(settings).map(([name, decl]) => settingDeclaration(method, name, decl));
  return Object.freeze({ method, phases: Object.freeze([...new Set(phases)]), claims: claimSpecs, settings: settingSpecs });
}

function claimDeclaration(method, name, decl) {
  let type;
  let description = "";
  if (typeof decl === "string") type = decl;
  else if (Array.isArray(decl) && decl.length >= 1 && decl.length <= 2) [type, description = ""] = decl;
  else if (isObject(decl)) ({ type, description = "" } = decl);
  if (!CLAIM_NAME_RE.test(name) || name.startsWith("lucid.")) {
    throw new TypeError(
      `${method}() emits '${name}': a claim name is a letter, then letters, digits, '_' or '.' (at most 128), not starting with 'lucid.'`,
    );
  }
  if (!CLAIM_TYPES.includes(type)) {
    throw new TypeError(
      `${method}() emits '${name}' of type ${describeValue(type)}; expected one of ${CLAIM_TYPES.join(", ")}`,
    );
  }
  if (typeof description !== "string") {
    throw new TypeError(`${method}() emits '${name}': the description must be a string`);
  }
  return { name, type, description };
}

function inferSettingType(method, name, value) {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  if (typeof value === "number" && Number.isFinite(value)) {
    if (!Number.isInteger(value)) return "number";
    if (value >= 0) return "count";
    throw new TypeError(
      `${method}() setting '${name}': the default ${value} is a negative integer and a count is >= 0; ` +
        `declare it as { type: "number", default: ${value}, description: "..." }`,
    );
  }
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return "string_list";
  throw new TypeError(
    `${method}() setting '${name}': cannot tell its type from the default ${describeValue(value)} ` +
      `(use a boolean, a number, a string or an array of strings, or declare { type, default, description })`,
  );
}

function settingDeclaration(method, name, decl) {
  let type;
  let value;
  let description = "";
  if (Array.isArray(decl)) {
    // Always [default, description]: a list default is written [["a", "b"], "description"].
    if (decl.length < 1 || decl.length > 2) {
      throw new TypeError(
        `${method}() setting '${name}': write [default, description] (a list default as [["a"], "..."]), got an array of ${decl.length}`,
      );
    }
    [value, description = ""] = decl;
  } else if (isObject(decl)) {
    ({ type, default: value, description = "" } = decl);
    if (!("default" in decl)) throw new TypeError(`${method}() setting '${name}': { type, default, description } needs a default`);
  } else {
    value = decl;
  }
  if (!SETTING_NAME_RE.test(name)) {
    throw new TypeError(`${method}() setting '${name}': a setting name is a letter, then letters, digits or '_' (at most 64)`);
  }
  if (type === undefined) type = inferSettingType(method, name, value);
  if (!SETTING_TYPES.includes(type)) {
    throw new TypeError(`${method}() setting '${name}' has type ${describeValue(type)}; expected one of ${SETTING_TYPES.join(", ")}`);
  }
  if (typeof description !== "string") throw new TypeError(`${method}() setting '${name}': the description must be a string`);
  return { name, type, default: settingValue(type, value, `${method}() setting '${name}' default`), description };
}

// Checks (and copies) a setting value of `type`; `what` names it in errors.
function settingValue(type, value, what) {
  const fail = (expected) => new TypeError(`${what} is ${describeValue(value)}; a ${type} setting needs ${expected}`);
  switch (type) {
    case "boolean":
      if (typeof value !== "boolean") throw fail("true or false");
      return value;
    case "count":
      if (typeof value === "bigint" && value >= 0n && value <= BigInt(MAX_SAFE)) return Number(value);
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw fail("an integer in 0..2^53-1");
      return value;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw fail("a finite number");
      return value;
    case "string":
      if (typeof value !== "string") throw fail("a string");
      return value;
    case "string_list":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw fail("an array of strings");
      return Object.freeze([...value]);
  }
  throw fail("a known type");
}

/**
 * The base class of auditors. A subclass sets `static id`, `static version`,
 * `static description` and `static claims` (a list of `claims(...)` declarations), and
 * defines the methods they name, each called as `method(input, settings)` and returning an
 * array of Claim. A fresh instance serves each call.
 */
export class ClaimsAuditor {}

// The compiled form of an auditor class, cached per class.
const compiled = new WeakMap();

function compile(cls) {
  if (compiled.has(cls)) return compiled.get(cls);
  if (typeof cls !== "function" || !(cls.prototype instanceof ClaimsAuditor)) {
    throw new TypeError(`expected a class extending ClaimsAuditor, got ${describeValue(cls)}`);
  }
  const where = `auditor class ${cls.name || "(anonymous)"}`;
  const { id, version, description = "" } = cls;
  if (typeof id !== "string" || !ID_RE.test(id)) {
    throw new TypeError(
      `${where}: static id ${describeValue(id)} is invalid (a lowercase letter, then lowercase letters, digits, '-' or '_'; at most 64)`,
    );
  }
  if (typeof version !== "string" || version === "") throw new TypeError(`${where}: static version must be a non-empty string (semver)`);
  if (typeof description !== "string") throw new TypeError(`${where}: static description must be a string`);
  const declarations = cls.claims;
  if (!Array.isArray(declarations) || declarations.length === 0) {
    throw new TypeError(`${where}: static claims must be a non-empty array of claims({...}) declarations`);
  }

  const methods = new Map(); // phase -> method name
  const claimSpecs = new Map(); // name -> {name, type, phases:Set, description, method}
  const settingSpecs = new Map(); // name -> {name, type, default, description, method}
  for (const decl of declarations) {
    if (!isObject(decl) || !Array.isArray(decl.phases) || typeof decl.method !== "string") {
      throw new TypeError(`${where}: static claims holds ${describeValue(decl)}; use claims({...}) for each entry`);
    }
    if (typeof cls.prototype[decl.method] !== "function") {
      throw new TypeError(`${where}: claims() names method ${decl.method}(), which the class does not define`);
    }
    for (const phase of decl.phases) {
      if (methods.has(phase)) {
        throw new TypeError(
          `${where}: the ${phase} phase is observed by both ${methods.get(phase)}() and ${decl.method}(); one method per phase`,
        );
      }
      methods.set(phase, decl.method);
    }
    for (const claim of decl.claims) {
      const known = claimSpecs.get(claim.name);
      if (!known) {
        claimSpecs.set(claim.name, { ...claim, phases: new Set(decl.phases), method: decl.method });
        continue;
      }
      if (known.type !== claim.type) {
        throw new TypeError(
          `${where}: claim '${claim.name}' is ${known.type} in ${known.method}() but ${claim.type} in ${decl.method}(); a claim has one type`,
        );
      }
      decl.phases.forEach((p) => known.phases.add(p));
      if (!known.description) known.description = claim.description;
    }
    for (const setting of decl.settings) {
      const known = settingSpecs.get(setting.name);
      if (!known) {
        settingSpecs.set(setting.name, { ...setting, method: decl.method });
        continue;
      }
      if (known.type !== setting.type || JSON.stringify(known.default) !== JSON.stringify(setting.default)) {
        throw new TypeError(
          `${where}: setting '${setting.name}' is declared differently in ${known.method}() and ${decl.method}() ` +
            `(${known.type} ${JSON.stringify(known.default)} vs ${setting.type} ${JSON.stringify(setting.default)})`,
        );
      }
      if (!known.description) known.description = setting.description;
    }
  }

  const order = (phases) => PHASES.filter((p) => phases.has(p));
  const vocabulary = deepFreeze({
    id,
    version,
    description,
    phases: order(new Set(methods.keys())),
    claims: [...claimSpecs.values()].map((c) => ({
      name: c.name,
      type: c.type,
      phases: order(c.phases),
      description: c.description,
    })),
    settings: [...settingSpecs.values()].map((s) => ({
      name: s.name,
      type: s.type,
      default: s.default,
      description: s.description,
    })),
  });
  const result = { cls, vocabulary, methods, claimsByName: new Map(vocabulary.claims.map((c) => [c.name, c])) };
  compiled.set(cls, result);
  return result;
}

function deepFreeze(value) {
  if (value && typeof value === "object") {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/**
 * The vocabulary of an auditor class as `lucid auditor inspect` shows it: {id, version,
 * description, phases, claims: [{name, type, phases, description}], settings: [{name, type,
 * default, description}]}. Throws when the declarations are inconsistent.
 */
export function vocabulary(cls) {
  return compile(cls).vocabulary;
}

const kebab = (name) => name.replace(/_/g, "-");
const snake = (name) => name.replace(/-/g, "_");

function settingToWit(type, value) {
  const tag = kebab(type);
  if (type === "count") return { tag, val: BigInt(value) };
  if (type === "string_list") return { tag, val: [...value] };
  return { tag, val: value };
}

function vocabularyToWit(v) {
  return {
    id: v.id,
    version: v.version,
    description: v.description,
    phases: [...v.phases],
    claims: v.claims.map((c) => ({ name: c.name, type: kebab(c.type), phases: [...c.phases], description: c.description })),
    settings: v.settings.map((s) => ({
      name: s.name,
      type: kebab(s.type),
      default: settingToWit(s.type, s.default),
      description: s.description,
    })),
  };
}

// The typed settings of a call: every declared setting, its value from the observation or
// its default.
function typedSettings(vocab, observed) {
  const given = new Map();
  for (const entry of Array.isArray(observed) ? observed : []) {
    if (isObject(entry) && isObject(entry.value)) given.set(entry.name, entry.value);
  }
  const settings = {};
  for (const spec of vocab.settings) {
    const value = given.get(spec.name);
    if (value === undefined) {
      settings[spec.name] = spec.default;
      continue;
    }
    if (snake(String(value.tag)) !== spec.type) {
      throw new InvalidInput(`setting '${spec.name}' is a ${snake(String(value.tag))}; the auditor declares a ${spec.type}`);
    }
    settings[spec.name] = settingValue(spec.type, value.val, `setting '${spec.name}'`);
  }
  return Object.freeze(settings);
}

// Runs one observation through an auditor class; returns the Claims or throws.
function observeClaims(auditor, observation) {
  const { cls, vocabulary: vocab, methods, claimsByName } = auditor;
  const input = new Input(observation);
  const method = methods.get(input.phase);
  if (!method) throw new Error(`auditor '${vocab.id}' does not observe the ${input.phase} phase`);
  const settings = typedSettings(vocab, observation.settings);
  input.settings = settings;
  const result = new cls()[method](input, settings);
  if (result && typeof result.then === "function") {
    throw new TypeError(`${method}() returned a Promise; observing methods must be synchronous`);
  }
  const list = result === undefined || result === null ? [] : result;
  if (typeof list[Symbol.iterator] !== "function" || typeof list === "string") {
    throw new TypeError(`${method}() returned ${describeValue(result)}; expected an array of Claim`);
  }
  const claimsOut = [...list];
  const seen = new Set();
  for (const claim of claimsOut) {
    if (!(claim instanceof Claim)) {
      throw new TypeError(`${method}() returned ${describeValue(claim)} among its claims; expected new Claim(name, type, value)`);
    }
    const spec = claimsByName.get(claim.name);
    if (!spec) throw new TypeError(`${method}() emitted claim '${claim.name}', which no claims() declaration emits`);
    if (spec.type !== claim.type) {
      throw new TypeError(`${method}() emitted claim '${claim.name}' of type ${claim.type}; it is declared ${spec.type}`);
    }
    if (!spec.phases.includes(input.phase)) {
      throw new TypeError(`${method}() emitted claim '${claim.name}' in the ${input.phase} phase; it is declared for ${spec.phases.join(", ")}`);
    }
    if (seen.has(claim.name)) throw new TypeError(`${method}() emitted claim '${claim.name}' twice`);
    seen.add(claim.name);
    if (claim.spans.length && input.phase !== "request" && input.phase !== "response") {
      throw new TypeError(`claim '${claim.name}' carries spans in the ${input.phase} phase; spans are for the request and response phases`);
    }
  }
  return claimsOut;
}

function errorMessage(error) {
  let message;
  if (error instanceof Error) {
    message = error.name && error.name !== "Error" && error.name !== "InvalidInput" ? `${error.name}: ${error.message}` : error.message;
  } else {
    try {
      message = String(error);
    } catch {
      message = "unknown error";
    }
  }
  return message.length > 2000 ? `${message.slice(0, 2000)}…` : message;
}

function errorToWit(error) {
  return { tag: error instanceof InvalidInput ? "invalid-input" : "failed", val: errorMessage(error) };
}

/**
 * The component's export for an auditor class: `export const auditor = exportAuditor(MyAuditor);`
 * (the name `auditor` is required by the WIT world). Checks the declarations now, so that a
 * mistake fails the build; `observe` never throws: errors become `failed` (or `invalid-input`
 * for a body that is not JSON).
 */
export function exportAuditor(cls) {
  const auditor = compile(cls);
  return Object.freeze({
    describe() {
      return vocabularyToWit(auditor.vocabulary);
    },
    observe(observation) {
      try {
        return { tag: "ok", val: observeClaims(auditor, observation).map((c) => c.toWit()) };
      } catch (error) {
        return { tag: "err", val: errorToWit(error) };
      }
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Testing with plain node

function asJsonText(what, value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/**
 * Runs an auditor class natively (plain `node`, no component) the way the host calls it: the
 * bodies are passed as JSON text (objects are serialized), settings are typed as declared
 * (unknown names and wrong types throw, like `lucid auditor test --set`), and the claims are
 * checked against the vocabulary. Returns the array of Claim; throws AuditorError when the
 * auditor returns an error.
 *
 *   const claims = run(Shout, "request", { messages: [{ role: "user", content: "HEY YOU" }] },
 *                      { settings: { min_letters: 2 } });
 *
 * Options: response, settings, artifacts, headers ({name: value}, for the exchange context),
 * requestId, scope.
 */
export function run(cls, phase, request, options = {}) {
  const auditor = compile(cls);
  const vocab = auditor.vocabulary;
  if (!PHASES.includes(phase)) throw new TypeError(`run(): unknown phase ${describeValue(phase)}; expected one of ${PHASES.join(", ")}`);
  if (!vocab.phases.includes(phase)) {
    throw new TypeError(`run(): auditor '${vocab.id}' does not observe the ${phase} phase (it observes ${vocab.phases.join(", ")})`);
  }
  const { response, settings = {}, artifacts, headers, requestId = "test-request", scope } = options;
  const overrides = [];
  for (const [name, value] of Object.entries(settings)) {
    const spec = vocab.settings.find((s) => s.name === name);
    if (!spec) {
      const known = vocab.settings.map((s) => s.name);
      throw new TypeError(
        `run(): auditor '${vocab.id}' has no setting '${name}'` + (known.length ? ` (its settings: ${known.join(", ")})` : " (it has no settings)"),
      );
    }
    overrides.push({ name, value: settingToWit(spec.type, settingValue(spec.type, value, `run(): setting '${name}'`)) });
  }
  // The host sends every declared setting: defaults with the overrides applied.
  const observed = vocab.settings.map(
    (s) => overrides.find((o) => o.name === s.name) ?? { name: s.name, value: settingToWit(s.type, s.default) },
  );
  let context = artifacts;
  if (headers) {
    const base = typeof context === "string" ? JSON.parse(context) : { ...(context ?? {}) };
    base.headers = { ...(isObject(base.headers) ? base.headers : {}) };
    for (const [name, value] of Object.entries(headers)) base.headers[name.toLowerCase()] = String(value);
    context = base;
  }
  const observation = {
    phase,
    requestId,
    scope: { org: "default", workspace: "default", agent: "default", ...(scope ?? {}) },
    request: asJsonText("request", request) ?? "",
    response: asJsonText("response", response),
    artifacts: asJsonText("artifacts", context),
    settings: observed,
  };
  let claimsOut;
  try {
    claimsOut = observeClaims(auditor, observation);
    claimsOut.forEach((c) => c.toWit());
  } catch (error) {
    const { tag, val } = errorToWit(error);
    const wrapped = new AuditorError(tag, val);
    wrapped.cause = error;
    throw wrapped;
  }
  return claimsOut;
}
