"""A tool call's result as text for the model: joined, capped, marked untrusted."""

from __future__ import annotations

from typing import Any

from roost.tools.untrusted import untrusted

RESULT_LIMIT_CHARS = 16_000


def result_text(source: str, content: list[Any], limit: int = RESULT_LIMIT_CHARS) -> str:
    """The text parts of ``content`` joined; other parts are named, not sent.

    ``content`` is the SDK's list of content blocks (text, image, audio, resource
    link, embedded resource); they are read by their ``type`` so this module does
    not import the SDK.
    """
    parts: list[str] = []
    for block in content:
        kind = getattr(block, "type", "?")
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind == "resource" and isinstance(getattr(block.resource, "text", None), str):
            parts.append(block.resource.text)
        else:
            mime = getattr(block, "mime_type", None) or getattr(block, "uri", None) or ""
            parts.append(f"[{kind} {mime} not shown: only text is passed on]".replace("  ", " "))
    text = "\n".join(parts) if parts else "(no content)"
    if len(text) > limit:
        cut = len(text) - limit
        text = text[:limit] + f"\n[… {cut} more characters cut: the result is capped at {limit}]"
    return untrusted(source, text)
