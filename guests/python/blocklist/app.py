"""blocklist: flags prompts that mention blocked terms, and proposes each mention for masking.

Built with the Python SDK (sdks/python/lucid_auditor.py); see README.md.
"""

from typing import Annotated

from lucid_auditor import Claim, ClaimsAuditor, Input, claims, export

#: Example terms (internal code names an organisation would not send to a model provider).
DEFAULT_TERMS = ("project nightingale", "acme-internal", "blue harbor")

#: Past this many mentions the claim carries no spans (all or none): a mask rule then denies
#: instead of passing on a prompt it could not mask completely. The contract allows 4096 per
#: claim; each span costs some microseconds in the component, and calls have a 50 ms deadline.
MAX_SPANS = 1000


def mentions(text, terms, case_sensitive):
    """``(start, end, term index)`` of each whole-word mention of a term in ``text``, in text
    order; where two overlap, the first (then the longer) wins. ``str.find`` runs at C speed, far faster than a
    regular expression over a 256 KiB prompt in the component."""
    hay = text if case_sensitive else text.lower()
    if len(hay) != len(text):  # a letter whose lower case is two characters (İ): keep indices
        hay = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    found = []
    for i, term in enumerate(terms):
        needle = term if case_sensitive else term.lower()
        start = hay.find(needle)
        while start != -1:
            end = start + len(needle)
            before = start > 0 and is_word(hay[start - 1])
            after = end < len(hay) and is_word(hay[end])
            if not before and not after:
                found.append((start, end, i))
            start = hay.find(needle, start + 1)
    found.sort(key=lambda m: (m[0], m[0] - m[1]))
    kept, last = [], 0
    for mention in found:
        if mention[0] >= last:
            kept.append(mention)
            last = mention[1]
    return kept


def is_word(char):
    return char.isalnum() or char == "_"


def clean(terms):
    """Terms without surrounding blanks, empty entries and repeats, in the order given."""
    return list(dict.fromkeys(term.strip() for term in terms if term.strip()))


class Blocklist(ClaimsAuditor):
    """Flags prompts that mention blocked terms (whole words) and proposes every mention as a
    span of kind blocked_term, which a policy may mask or deny."""

    id = "blocklist"
    version = "0.1.0"

    @claims(
        phase="request",
        emits={
            "blocklisted": ("boolean", "the prompt mentions a blocked term; spans: each mention"),
            "blocked_terms": ("string_list", "the blocked terms mentioned, as configured"),
            "blocked_count": ("count", "how many mentions"),
        },
    )
    def request(
        self,
        input: Input,
        *,
        terms: Annotated[list[str], "terms to flag (whole words)"] = list(DEFAULT_TERMS),
        case_sensitive: Annotated[bool, "match the terms' case exactly"] = False,
    ) -> list[Claim]:
        terms = clean(terms)
        found, spans, count = set(), [], 0
        for message in input.messages:
            for start, end, term in mentions(message.content, terms, case_sensitive):
                count += 1
                found.add(term)
                if count <= MAX_SPANS:
                    # Python string indices in; the SDK addresses them in the request (the
                    # right text part, UTF-8 byte offsets), as the gateway masks them.
                    spans += input.message_spans(
                        message.index, start, end, "blocked_term", "[BLOCKED]"
                    )
        maskable = count <= MAX_SPANS and len(spans) <= MAX_SPANS
        return [
            Claim("blocklisted", "boolean", count > 0, spans=spans if maskable else [],
                  metadata={"maskable": maskable} if count else None),
            Claim("blocked_terms", "string_list", [t for i, t in enumerate(terms) if i in found]),
            Claim("blocked_count", "count", count),
        ]


Auditor = export(Blocklist)
