"""Marking content from outside as data, so the model can tell it from its owner's words.

A minimal version (tools-web): the tools-memory work defines the full helper (a
preamble for the system prompt, forged tags in every disguise); the two agree on
``untrusted(source, text) -> str`` and on the tag, and that version replaces this one.
"""

from __future__ import annotations

import re

TAG = "untrusted"
_FORGED_TAG = re.compile(r"<(?=\s*/?\s*untrusted)", re.IGNORECASE)
_SOURCE_UNSAFE = re.compile(r"[\"<>\x00-\x1f\x7f]+")
MAX_SOURCE_CHARS = 120


def untrusted(source: str, text: str) -> str:
    """``text`` wrapped as data from ``source`` (a short label: "web https://…")."""
    label = _SOURCE_UNSAFE.sub(" ", source).strip()[:MAX_SOURCE_CHARS] or "unknown"
    body = _FORGED_TAG.sub("&lt;", text)  # the content cannot close the region early
    return f'<{TAG} source="{label}">\n{body}\n</{TAG}>'
