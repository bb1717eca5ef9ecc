// Types of the Lucid auditor SDK for JavaScript (lucid-auditor.js), contract lucid:auditor@0.2.0.

/** When in an exchange an observation happens. */
export type Phase = "artifact" | "request" | "execution" | "response";
/** The seven claim types. */
export type ClaimType =
  | "score_normalized"
  | "boolean"
  | "string"
  | "string_list"
  | "count"
  | "duration_ms"
  | "object";
export type SettingType = "boolean" | "count" | "number" | "string" | "string_list";
/** Any JSON value (object claims and metadata are sent as its JSON text). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The value a claim of each type carries. */
export interface ClaimValueOf {
  score_normalized: number;
  boolean: boolean;
  string: string;
  string_list: string[];
  count: number;
  duration_ms: number;
  object: Json;
}
/** The value a setting of each type has. */
export interface SettingValueOf {
  boolean: boolean;
  count: number;
  number: number;
  string: string;
  string_list: readonly string[];
}

export const PHASES: readonly Phase[];
export const CLAIM_TYPES: readonly ClaimType[];
export const SETTING_TYPES: readonly SettingType[];
/** At most this many spans per claim. */
export const MAX_SPANS_PER_CLAIM: 4096;

/** Throw it when the observation cannot be understood: the host gets `invalid-input`. */
export class InvalidInput extends Error {
  constructor(message: string);
}

/** Thrown by `run` when the auditor returned an error. */
export class AuditorError extends Error {
  readonly kind: "failed" | "invalid-input";
  /** The message the host would have received. */
  readonly detail: string;
  constructor(kind: "failed" | "invalid-input", message: string);
}

/**
 * A piece of the observed text a claim is about, which a policy may ask to mask: an RFC 6901
 * pointer to a string of the request (request phase) or response (response phase), UTF-8 byte
 * offsets `start < end`, a kind (`[a-z0-9_]{1,32}`) and an optional label like `[EMAIL]`.
 * Usually made by `Input.messageSpans`, `responseSpans` or `toolCallSpans`.
 */
export class Span {
  readonly field: string;
  readonly start: number;
  readonly end: number;
  readonly kind: string;
  readonly label: string | undefined;
  constructor(field: string, start: number, end: number, kind: string, label?: string);
}

export interface SpanLike {
  field: string;
  start: number;
  end: number;
  kind: string;
  label?: string;
}

export interface ClaimOptions {
  /** How sure the auditor is, 0..1 (default 1). */
  confidence?: number;
  /** Details for the evidence (ends up in receipts: never the sensitive content itself). */
  metadata?: Json;
  /** At most 4096; request and response phases only. */
  spans?: ReadonlyArray<Span | SpanLike>;
}

/** One observation about the exchange; the constructor checks the value against the type. */
export class Claim<T extends ClaimType = ClaimType> {
  readonly name: string;
  readonly type: T;
  readonly value: ClaimValueOf[T];
  readonly confidence: number;
  readonly metadata: Json | undefined;
  readonly spans: readonly Span[];
  constructor(name: string, type: T, value: ClaimValueOf[T] | (T extends "count" | "duration_ms" ? bigint : never), options?: ClaimOptions);
  /** The WIT `claim` record the component returns. */
  toWit(): WitClaim;
  /** The JSON form `lucid auditor test` prints. */
  toJSON(): object;
}

export interface Scope {
  readonly org: string;
  readonly workspace: string;
  readonly agent: string;
}

/** A request message with its content flattened to text. */
export interface Message {
  /** Position in `request.messages`. */
  readonly index: number;
  /** As written ("system", "user", "assistant", "tool"...; "" when missing). */
  readonly role: string;
  /** A string content as is; array-of-parts content: its text parts joined with "\n". */
  readonly content: string;
  readonly name: string | undefined;
  /** Written by a user or a tool (role user, tool or function): where injections arrive. */
  readonly untrusted: boolean;
}

/** A function call requested by the model, from the request history or the response. */
export interface ToolCall {
  readonly id: string | undefined;
  readonly name: string;
  /** The arguments as text (an object given inline is serialized). */
  readonly arguments: string;
  readonly origin: "request" | "response";
  /** With origin "request": the message holding the call. */
  readonly message?: number;
  /** With origin "response": the choice holding the call. */
  readonly choice?: number;
  /** The JSON pointer of the arguments when given as a string (only then can they be masked). */
  readonly pointer: string | undefined;
}

export type Settings = { readonly [name: string]: SettingValueOf[SettingType] };

/** What an auditor observes in one phase of one exchange. */
export class Input {
  readonly phase: Phase;
  readonly requestId: string;
  readonly scope: Scope;
  /** Every declared setting, typed, with its default when not configured. */
  settings: Settings;
  /** The parsed chat-completions request; null in the artifact phase when there is none. */
  readonly request: { [key: string]: any } | null;
  /** The parsed response (execution and response phases). */
  readonly response: { [key: string]: any } | undefined;
  /** The artifact descriptor (artifact phase) or the exchange context `{headers}` (others). */
  readonly artifacts: any;
  /** The request's x-lucid-* headers, names lowercase; {} in the artifact phase. */
  readonly headers: { readonly [name: string]: string };
  readonly messages: readonly Message[];
  readonly toolCalls: readonly ToolCall[];
  /** The choices' text joined with "\n"; undefined without a response. */
  readonly responseText: string | undefined;
  /** Builds an input from a WIT observation; throws InvalidInput for malformed bodies. */
  constructor(observation: WitObservation);
  /** A header by case-insensitive name. */
  header(name: string): string | undefined;
  /** The non-empty texts of `phase` (default: this one): messages, tool arguments or response. */
  texts(phase?: Phase): string[];
  /** The non-empty text of each choice, in order. */
  responseTexts(): string[];
  /** Spans of `messages[index].content` from JS string index start to end (UTF-8 bytes out). */
  messageSpans(index: number, start: number, end: number, kind: string, label?: string): Span[];
  /** Spans of `responseText` from start to end. */
  responseSpans(start: number, end: number, kind: string, label?: string): Span[];
  /** Spans of `toolCalls[index].arguments` (string arguments only). */
  toolCallSpans(index: number, start: number, end: number, kind: string, label?: string): Span[];
}

/** A claim declaration: a type, [type, description] or {type, description}. */
export type ClaimDeclaration = ClaimType | [ClaimType, string?] | { type: ClaimType; description?: string };
/** A setting declaration: [default, description], a default (not a list) or {type, default, description}. */
export type SettingDeclaration =
  | [boolean | number | string | string[], string?]
  | boolean
  | number
  | string
  | { type?: SettingType; default: boolean | number | string | string[]; description?: string };

export interface ClaimsSpec {
  phase: Phase | Phase[];
  emits?: { [claim: string]: ClaimDeclaration };
  settings?: { [setting: string]: SettingDeclaration };
}

/** What `claims()` returns; list them in `static claims`. */
export interface ClaimsDeclaration {
  readonly method: string;
  readonly phases: readonly Phase[];
}

/**
 * Declares one observing method: its phase(s), the claims it emits, the settings it reads.
 * `method` defaults to the phase's name when there is one phase.
 */
export function claims(spec: ClaimsSpec, method?: string): ClaimsDeclaration;

/**
 * The base class of auditors. Set `static id`, `static version`, `static description` and
 * `static claims`, and define the methods they name: `method(input, settings) => Claim[]`.
 */
export class ClaimsAuditor {
  static id: string;
  static version: string;
  static description?: string;
  static claims: ClaimsDeclaration[];
}

export type AuditorClass = (new () => ClaimsAuditor) & {
  id: string;
  version: string;
  description?: string;
  claims: ClaimsDeclaration[];
};

export interface Vocabulary {
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly phases: readonly Phase[];
  readonly claims: readonly { name: string; type: ClaimType; phases: readonly Phase[]; description: string }[];
  readonly settings: readonly { name: string; type: SettingType; default: SettingValueOf[SettingType]; description: string }[];
}

/** The vocabulary as `lucid auditor inspect` shows it; throws on inconsistent declarations. */
export function vocabulary(cls: AuditorClass): Vocabulary;

// The WIT shapes componentize-js exchanges with the host (kebab-case enums, {tag, val} variants).
export interface WitClaim {
  name: string;
  value: { tag: string; val: unknown };
  confidence: number;
  metadata: string | undefined;
  spans: SpanLike[];
}
export interface WitObservation {
  phase: Phase;
  requestId: string;
  scope: Scope;
  request: string;
  response?: string;
  artifacts?: string;
  settings: { name: string; value: { tag: string; val: unknown } }[];
}
export interface WitAuditor {
  describe(): object;
  observe(observation: WitObservation):
    | { tag: "ok"; val: WitClaim[] }
    | { tag: "err"; val: { tag: "invalid-input" | "failed"; val: string } };
}

/** The component's export: `export const auditor = exportAuditor(MyAuditor);` */
export function exportAuditor(cls: AuditorClass): WitAuditor;

export interface RunOptions {
  /** The chat-completions response (object or JSON text), for the execution and response phases. */
  response?: object | string;
  /** Setting overrides, typed as declared. */
  settings?: { [name: string]: boolean | number | bigint | string | string[] };
  /** The artifact descriptor, or the exchange context. */
  artifacts?: object | string;
  /** Request headers for the exchange context (x-lucid-*). */
  headers?: { [name: string]: string };
  requestId?: string;
  scope?: Partial<Scope>;
}

/** Runs an auditor natively like the host does; throws AuditorError when it returns an error. */
export function run(cls: AuditorClass, phase: Phase, request: object | string, options?: RunOptions): Claim[];

/** OpenAI `content` flattened to text as the SDK does (text parts joined with "\n"). */
export function contentText(content: unknown): string;
/** An RFC 6901 pointer from reference tokens. */
export function jsonPointer(...tokens: (string | number)[]): string;
/** The UTF-8 length of a string, in bytes. */
export function utf8Length(text: string): number;
