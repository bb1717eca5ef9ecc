// Tests with plain node: `npm test` (node --test). `run` calls the auditor like the gateway
// does: bodies as JSON text, settings typed as declared, claims checked against the vocabulary.
import test from "node:test";
import assert from "node:assert/strict";

import { run } from "./lucid-auditor.js";
import { {{class}} } from "./auditor.js";

const ask = (content) => ({ messages: [{ role: "user", content }] });
const byName = (claims) => Object.fromEntries(claims.map((c) => [c.name, c]));

test("mentions of watched words are counted and spanned", () => {
  const claims = byName(run({{class}}, "request", ask("This is Confidential, really confidential.")));
  assert.deepEqual(claims.watched_words.value, ["confidential"]);
  assert.equal(claims.mentions.value, 2);
  assert.deepEqual(
    claims.mentions.spans.map((s) => [s.field, s.start, s.end]),
    [["/messages/0/content", 8, 20], ["/messages/0/content", 29, 41]],
  );
});

test("settings change the watched words", () => {
  const claims = byName(run({{class}}, "request", ask("the secret plan"), { settings: { words: ["secret"] } }));
  assert.deepEqual(claims.watched_words.value, ["secret"]);
  assert.equal(byName(run({{class}}, "request", ask("nothing to see"))).mentions.value, 0);
});
