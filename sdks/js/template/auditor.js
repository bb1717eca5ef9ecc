// {{id}}: a Lucid auditor written in JavaScript.
//
// It watches prompts for words the operator configures and proposes each mention as a span a
// policy may mask. Change it into your own: declare what you claim in `static claims`, compute
// it in the method named after the phase.
//
//   npm install                 once: the build toolchain (componentize-js)
//   npm test                    runs auditor.test.js with plain node
//   lucid auditor build .       makes {{id}}.wasm (and checks that the gateway accepts it)
//   lucid auditor test {{id}}.wasm --contract
//
// The SDK is lucid-auditor.js beside this file (types: lucid-auditor.d.ts). Limits: each call
// runs in a fresh sandbox within 50 ms and 64 MiB; there is no network, no file system, no
// real clock or randomness (Date.now() is frozen at build time, Math.random() repeats), and
// console output is discarded. Only relative imports inside this directory work; bundle npm
// packages first if you need them.

import { ClaimsAuditor, Claim, claims, exportAuditor } from "./lucid-auditor.js";

// A claim may carry at most 4096 spans; propose every mention or none (a policy cannot mask
// what was left out).
const MAX_SPANS = 4096;

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Whether a character belongs to a word (a letter with case, a digit or '_'). The engine has no
// Intl and no \p{...} classes in regular expressions, so this is done by hand.
function isWordChar(ch) {
  return ch !== undefined && (/[0-9_]/.test(ch) || ch.toLowerCase() !== ch.toUpperCase());
}

export class {{class}} extends ClaimsAuditor {
  static id = "{{id}}";
  static version = "0.1.0";
  static description = "Flags prompts that mention a watched word.";

  // One entry per observing method: its phase(s), the claims it emits (name: [type,
  // description]; types: score_normalized, boolean, string, string_list, count, duration_ms,
  // object) and its settings (name: [default, description]; the type follows from the
  // default). Operators override settings per scope in the gateway's configuration.
  static claims = [
    claims({
      phase: "request",
      emits: {
        watched_words: ["string_list", "the watched words the prompt mentions"],
        mentions: ["count", "how many times they are mentioned (spans: kind word)"],
      },
      settings: {
        words: [["confidential", "internal only"], "words to watch for, case-insensitive"],
      },
    }),
  ];

  // Called for every request with the parsed exchange and the typed settings.
  request(input, { words }) {
    const watched = words.map((w) => w.trim()).filter((w) => w !== "");
    const found = new Set();
    const spans = [];
    let mentions = 0;
    if (watched.length > 0) {
      const pattern = new RegExp(watched.map(escapeRegExp).join("|"), "gi");
      for (const message of input.messages) {
        const text = message.content;
        for (const match of text.matchAll(pattern)) {
          const [start, end] = [match.index, match.index + match[0].length];
          if (isWordChar(text[start - 1]) || isWordChar(text[end])) continue; // part of a longer word
          mentions += 1;
          found.add(watched.find((w) => w.toLowerCase() === match[0].toLowerCase()) ?? match[0]);
          // JS string indices in, UTF-8 byte spans of the request out (split across text parts).
          spans.push(...input.messageSpans(message.index, start, end, "word", "[REDACTED]"));
        }
      }
    }
    return [
      new Claim("watched_words", "string_list", [...found]),
      new Claim("mentions", "count", mentions, {
        spans: spans.length <= MAX_SPANS ? spans : [],
        metadata: { maskable: spans.length <= MAX_SPANS }, // metadata ends up in receipts: no content
      }),
    ];
  }
}

// The component's export; the name `auditor` is required.
export const auditor = exportAuditor({{class}});
