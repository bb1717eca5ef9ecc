"""{{class}}: a Lucid auditor written in Python.

    lucid auditor build .                          # -> {{id}}.wasm (a WebAssembly component)
    lucid auditor test {{id}}.wasm --contract      # the checks the gateway makes on every call

Try it without building, in plain Python (lucid_auditor.py sits next to this file):

    python -c "import app, lucid_auditor as l; print(l.run(app.{{class}}, 'request',
               {'messages': [{'role': 'user', 'content': 'WHERE IS MY ORDER?'}]}))"

Import everything at the top of the file: the component has no files at call time.
"""

from typing import Annotated

from lucid_auditor import Claim, ClaimsAuditor, Input, claims, export


class {{class}}(ClaimsAuditor):
    """Flags messages written in capital letters."""  # the description operators see

    id = "{{id}}"  # the name policies and receipts use for this auditor
    version = "0.1.0"

    # Called in the request phase, before the model sees the prompt. `emits` declares every
    # claim this method may return, with its type. The keyword-only parameters (after `*`) are
    # settings: operators can change them per org, workspace or agent; these are the defaults.
    @claims(
        phase="request",
        emits={
            "shouting": ("boolean", "some message is written in capitals"),
            "shouting_messages": ("count", "how many messages are"),
        },
    )
    def request(
        self,
        input: Input,
        *,
        min_letters: Annotated[int, "messages with fewer letters never count"] = 8,
    ) -> list[Claim]:
        loud = [m.index for m in input.messages if shouts(m.content, min_letters)]
        return [
            # Metadata goes into receipts: say where, never copy the text itself.
            Claim("shouting", "boolean", bool(loud), metadata={"messages": loud}),
            Claim("shouting_messages", "count", len(loud)),
        ]


def shouts(text: str, min_letters: int) -> bool:
    """All cased letters are capitals, and there are at least `min_letters` letters."""
    if not text.isupper():  # str methods run at C speed: prefer them to loops over characters
        return False
    letters = 0
    for char in text:
        letters += char.isalpha()
        if letters >= min_letters:
            return True
    return False


# A policy can now use the claim, e.g. in Cedar:
#   forbid (principal, action, resource) when { context.claims has shouting && context.claims.shouting };

Auditor = export({{class}})  # what the component exports (componentize-py looks for `Auditor`)
