// node --test guests/js
import test from "node:test";
import assert from "node:assert/strict";

import { run } from "./lucid-auditor.js";
import { Links } from "./auditor.js";

const answer = (...contents) => ({
  choices: contents.map((content, index) => ({ index, message: { role: "assistant", content } })),
});
const ask = { messages: [{ role: "user", content: "where can I read more?" }] };
const check = (response, settings) =>
  Object.fromEntries(run(Links, "response", ask, { response, settings }).map((c) => [c.name, c]));

test("every domain is allowed by default", () => {
  const claims = check(answer("See https://Docs.Example.com/a and http://user@other.org:8080/x."));
  assert.deepEqual(claims.link_domains.value, ["docs.example.com", "other.org"]);
  assert.equal(claims.unlisted_links.value, 0);
  assert.equal(claims.links_allowed.value, true);
  assert.deepEqual(claims.unlisted_links.spans, []);
});

test("links outside the allow-list are counted and spanned in UTF-8 bytes", () => {
  const text = "Voir https://docs.example.com/a (et https://évil.test/x?q=1).";
  const second = "Also <http://badexample.com/p>, fine: https://example.com";
  const claims = check(answer(text, second), { allowed_domains: ["example.com"] });
  assert.equal(claims.unlisted_links.value, 2);
  assert.equal(claims.links_allowed.value, false);
  const spans = claims.unlisted_links.spans;
  assert.deepEqual(
    spans.map((s) => [s.field, s.kind, s.label]),
    [
      ["/choices/0/message/content", "url", "[URL]"],
      ["/choices/1/message/content", "url", "[URL]"],
    ],
  );
  assert.equal(Buffer.from(text).subarray(spans[0].start, spans[0].end).toString(), "https://évil.test/x?q=1");
  assert.equal(Buffer.from(second).subarray(spans[1].start, spans[1].end).toString(), "http://badexample.com/p");
});

test("an answer without links or without text", () => {
  const none = check(answer("no links here"), { allowed_domains: ["example.com"] });
  assert.deepEqual(none.link_domains.value, []);
  assert.equal(none.links_allowed.value, true);
  assert.equal(check({ choices: [] }).unlisted_links.value, 0);
});
