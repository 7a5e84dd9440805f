"""The in-process example of docs/oidc.md runs as written (issue 5 review): the code block after "A
complete in-process run" is extracted from the page and executed, and its login is checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from myna_rp.platform.oidc import OIDCAcr, PartialAttributes

DOC = Path(__file__).resolve().parents[2] / "docs" / "oidc.md"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    after = text.split("A complete in-process run", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None, "the in-process example block is missing from docs/oidc.md"
    return match.group(1)


def test_the_in_process_example_of_the_oidc_page_runs() -> None:
    namespace: dict[str, Any] = {"__name__": "docs_oidc_example"}
    exec(compile(_example(), str(DOC), "exec"), namespace)  # our own documentation, as published
    login = namespace["login"]
    assert login.issuer == "http://jlis-mock.test/oidc"
    assert login.acr == OIDCAcr.CARD
    assert isinstance(login.attributes, PartialAttributes)
    assert login.attributes.name == "試験　花子"
    assert len(login.subject) == 43
