"""Telegram's parse_mode=HTML parser, rebuilt after tdlib's ``parse_html``.

It is as strict as the real one where the product can trip: unsupported tags,
unclosed or mismatched tags, a ``span`` without ``class="tg-spoiler"``, broken
attributes. Like Telegram it accepts a bare ``&`` or ``>`` and unknown ``&name;``
as literal text, and it answers with the text as Telegram stores it: tags removed,
entities decoded, surrounding whitespace trimmed, and the formatting as
MessageEntity dicts with UTF-16 offsets. Error messages match tdlib's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
"""Every tag Telegram accepts, and the entity type it produces."""

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]{1,8})|#([0-9]{1,10})|([a-zA-Z]+));")


class HtmlParseError(ValueError):
    """The text is not HTML Telegram accepts; ``str(error)`` is tdlib's reason."""

    @property
    def description(self) -> str:
        return f"Bad Request: can't parse entities: {self}"


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    attributes: dict[str, str]
    offset: int
    """UTF-16 offset in the output where the tag's content starts."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> ParsedText:
    """Parse ``source`` as Telegram does, or raise :class:`HtmlParseError`."""
    return _Parser(source).parse()


def strip_whitespace(parsed: ParsedText) -> ParsedText:
    """Trim the text's surrounding whitespace as Telegram does, keeping entities aligned."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            entities.append({**entity, "offset": start - lead, "length": stop - start})
    return ParsedText(stripped, entities)


class _Parser:
    def __init__(self, source: str) -> None:
        self.s = source
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.s[:index].encode("utf-8"))

    def parse(self) -> ParsedText:
        s, i = self.s, 0
        while i < len(s):
            if s[i] == "&":
                decoded = _decode_entity(s, i)
                if decoded is not None:
                    self._emit(decoded[0])
                    i = decoded[1]
                    continue
            if s[i] != "<":
                self._emit(s[i])
                i += 1
            elif i + 1 < len(s) and s[i + 1] == "/":
                i = self._end_tag(i)
            else:
                i = self._start_tag(i)
        if self.stack:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # only meaningful once merged into a pre
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.out), self.entities)

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def _start_tag(self, begin: int) -> int:
        s, i = self.s, begin + 1
        while i < len(s) and not s[i].isspace() and s[i] != ">":
            i += 1
        if i >= len(s):
            raise HtmlParseError(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        name = s[begin + 1 : i].lower()
        if name not in ENTITY_TYPES:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self.byte_offset(begin)}'
            )
        attributes, i = self._attributes(i, name, begin)
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        self.stack.append(_OpenTag(name, attributes, self.offset))
        return i + 1

    def _attributes(self, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
        """Parse attributes up to the tag's ``>``; return them and the index of ``>``."""
        s, attributes = self.s, {}
        at = self.byte_offset(begin)
        while True:
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s):
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
            if s[i] == ">":
                return attributes, i
            name_start = i
            while i < len(s) and not s[i].isspace() and s[i] not in "=>":
                i += 1
            name = s[name_start:i].lower()
            if not name:
                raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {at}')
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s) or s[i] != "=":
                if tag == "blockquote" and name == "expandable":
                    attributes[name] = ""
                    continue
                raise HtmlParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {at}'
                )
            i += 1
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s):
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {at}')
            value, i = self._attribute_value(i)
            attributes[name] = value

    def _attribute_value(self, i: int) -> tuple[str, int]:
        s = self.s
        if s[i] not in "'\"":
            start = i
            while i < len(s) and (s[i].isalnum() or s[i] in ".-"):
                i += 1
            if i < len(s) and not s[i].isspace() and s[i] != ">":
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {self.byte_offset(start)}"
                )
            return s[start:i].lower(), i
        quote, i = s[i], i + 1
        value: list[str] = []
        while i < len(s) and s[i] != quote:
            decoded = _decode_entity(s, i) if s[i] == "&" else None
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
            else:
                value.append(s[i])
                i += 1
        return "".join(value), i + 1

    def _end_tag(self, begin: int) -> int:
        s = self.s
        at = self.byte_offset(begin)
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {at}")
        i = begin + 2
        while i < len(s) and not s[i].isspace() and s[i] != ">":
            i += 1
        name = s[begin + 2 : i].lower()
        while i < len(s) and s[i].isspace():
            i += 1
        if i >= len(s) or s[i] != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {at}")
        opened = self.stack.pop()
        if name and name != opened.name:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {at}, expected "</{opened.name}>", '
                f'found "</{name}>"'
            )
        self._close(opened)
        return i + 1

    def _close(self, opened: _OpenTag) -> None:
        length = self.offset - opened.offset
        if length <= 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {
            "type": ENTITY_TYPES[opened.name],
            "offset": opened.offset,
            "length": length,
        }
        if opened.name == "a":
            if not opened.attributes.get("href"):
                return
            entity["url"] = opened.attributes["href"]
        if opened.name == "blockquote" and "expandable" in opened.attributes:
            entity["type"] = "expandable_blockquote"
        if opened.name == "tg-emoji":
            entity["custom_emoji_id"] = opened.attributes.get("emoji-id", "")
        if opened.name == "pre" and self._merge_code_into_pre(entity):
            return
        if opened.name == "code":
            language = opened.attributes.get("class", "")
            if language.startswith("language-"):
                entity["language"] = language.removeprefix("language-")
        self.entities.append(entity)

    def _merge_code_into_pre(self, pre: dict[str, Any]) -> bool:
        """``<pre><code class="language-x">`` is one pre entity with a language."""
        if not self.entities:
            return False
        last = self.entities[-1]
        same_span = (last["offset"], last["length"]) == (pre["offset"], pre["length"])
        if last["type"] != "code" or not same_span:
            return False
        self.entities[-1] = {
            **pre,
            **({"language": last["language"]} if "language" in last else {}),
        }
        return True


def _decode_entity(s: str, i: int) -> tuple[str, int] | None:
    """The character an HTML entity at ``s[i]`` stands for, and where it ends."""
    match = _ENTITY.match(s, i)
    if match is None:
        return None
    hex_code, dec_code, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return (char, match.end()) if char is not None else None
    code = int(hex_code, 16) if hex_code is not None else int(dec_code)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()
