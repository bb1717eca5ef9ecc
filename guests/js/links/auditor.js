// links: which web sites does the model's answer send the user to?
//
// Response phase. Finds the http(s) links in the answer and claims
//   link_domains   (string_list)  the distinct domains linked, in order of appearance
//   unlisted_links (count)        links whose domain is not in `allowed_domains`
//   links_allowed  (boolean)      no unlisted link
// `unlisted_links` carries one span (kind `url`) per unlisted link, so that a policy can mask
// them instead of denying the answer:
//
//   @id("links.mask-unlisted") @redact("unlisted_links")
//   forbid (principal, action == Action::"response", resource)
//   when { context.claims has unlisted_links && context.claims.unlisted_links > 0 };
//
// Setting `allowed_domains` (default empty: any domain is allowed): `example.com` also allows
// its subdomains (`docs.example.com`), not `badexample.com`.
//
// lucid-auditor.js here is a symbolic link to sdks/js/lucid-auditor.js (for node tests);
// `lucid auditor build guests/js/links` builds a copy with the real SDK beside it.

import { ClaimsAuditor, Claim, claims, exportAuditor } from "./lucid-auditor.js";

// A link: a scheme, then everything up to a space, a quote or a bracket that cannot be part of
// it. Trailing sentence punctuation is trimmed afterwards.
const LINK = /\bhttps?:\/\/[^\s<>"'`\]\[{}|\\^]+/gi;
const TRAILING = /[.,;:!?*_~]+$/;
// Most domains listed, and most spans proposed (a claim may carry 4096).
const MAX_DOMAINS = 64;
const MAX_SPANS = 4096;

/** The link's host, lowercase, without user info, port or trailing dot; "" if none. */
function domainOf(link) {
  const authority = link.replace(/^https?:\/\//i, "").split(/[/?#]/, 1)[0];
  const host = authority.slice(authority.lastIndexOf("@") + 1).replace(/:\d*$/, "");
  return host.toLowerCase().replace(/\.$/, "");
}

/** Trims what ends a sentence rather than the link: "see https://a.io/x." and "(https://a.io)". */
function trimLink(link) {
  let end = link.replace(TRAILING, "");
  // A closing parenthesis belongs to the link only when the link opened one.
  while (end.endsWith(")") && (end.match(/\(/g) ?? []).length < (end.match(/\)/g) ?? []).length) {
    end = end.slice(0, -1).replace(TRAILING, "");
  }
  return end;
}

function normalizeAllowed(entry) {
  return entry.trim().toLowerCase().replace(/^\*?\./, "").replace(/\.$/, "");
}

class Links extends ClaimsAuditor {
  static id = "links";
  static version = "0.1.0";
  static description = "Lists the domains the answer links to and flags links outside an allow-list.";
  static claims = [
    claims({
      phase: "response",
      emits: {
        link_domains: ["string_list", "distinct domains of the answer's http(s) links, in order"],
        unlisted_links: ["count", "links to a domain not in allowed_domains (spans: kind url)"],
        links_allowed: ["boolean", "every link goes to an allowed domain"],
      },
      settings: {
        allowed_domains: [[], "domains links may go to, subdomains included; empty: any"],
      },
    }),
  ];

  response(input, { allowed_domains }) {
    const allowed = allowed_domains.map(normalizeAllowed).filter((d) => d !== "");
    const isAllowed = (domain) =>
      allowed.length === 0 || allowed.some((a) => domain === a || domain.endsWith(`.${a}`));

    const text = input.responseText ?? "";
    const domains = new Set();
    const unlisted = []; // [start, end] string indices of each unlisted link
    let links = 0;
    let truncated = false;
    for (const match of text.matchAll(LINK)) {
      const link = trimLink(match[0]);
      const domain = domainOf(link);
      if (domain === "") continue;
      links += 1;
      if (domains.size < MAX_DOMAINS) domains.add(domain);
      else truncated ||= !domains.has(domain);
      if (!isAllowed(domain)) unlisted.push([match.index, match.index + link.length]);
    }

    // Propose every unlisted link or none: a policy cannot mask what is left out.
    const maskable = unlisted.length <= MAX_SPANS;
    const spans = maskable
      ? unlisted.flatMap(([start, end]) => input.responseSpans(start, end, "url", "[URL]"))
      : [];
    const metadata = { links, unlisted: unlisted.length, maskable };
    return [
      new Claim("link_domains", "string_list", [...domains], { metadata: { truncated } }),
      new Claim("unlisted_links", "count", unlisted.length, { metadata, spans: spans.slice(0, MAX_SPANS) }),
      new Claim("links_allowed", "boolean", unlisted.length === 0),
    ];
  }
}

export { Links };
export const auditor = exportAuditor(Links);
