"""Documents sent in a chat are saved into the agent's workspace, under ``inbox/``.

The file name is made safe (no directories, no leading dots, only letters, digits,
``.``, ``-`` and ``_``); a different file of the same name gets ``-1``, ``-2``…
(the same bytes again reuse the file, so an update handled twice saves once). The
agent then gets one message: ``[document saved: inbox/name.pdf]`` and the caption.
Other media (photos, voice, stickers…) are not supported yet, and say so.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from pathlib import Path

from telegram import Document, Message
from telegram.error import TelegramError

from roost.channels.telegram.context import ChannelContext, Incoming

log = logging.getLogger(__name__)

INBOX = "inbox"
MAX_BYTES = 20 * 1024 * 1024
"""The Bot API's download limit."""
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_UNSUPPORTED = (
    ("photo", "Photos"),
    ("voice", "Voice messages"),
    ("video_note", "Video messages"),
    ("video", "Videos"),
    ("audio", "Audio files"),
    ("animation", "GIFs"),
    ("sticker", "Stickers"),
    ("location", "Locations"),
    ("venue", "Venues"),
    ("contact", "Contacts"),
    ("poll", "Polls"),
    ("dice", "Dice"),
    ("story", "Stories"),
)


def unsupported_kind(message: Message) -> str | None:
    """What the message carries, as a plural noun, if it is a medium we do not handle."""
    for attribute, noun in _UNSUPPORTED:
        if getattr(message, attribute, None):
            return noun
    return None


def safe_name(raw: str | None, fallback: str = "document") -> str:
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("_", name).strip("._-") or fallback
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_NAME]
    return name


def store_in_inbox(workspace: Path, name: str, content: bytes) -> Path:
    """Write ``content`` as ``workspace/inbox/name`` (or a free variant); return the path."""
    inbox = workspace / INBOX
    inbox.mkdir(parents=True, exist_ok=True)
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    candidate = inbox / name
    number = 0
    while candidate.exists():
        if candidate.is_file() and candidate.read_bytes() == content:
            return candidate
        number += 1
        candidate = inbox / (f"{stem}-{number}.{suffix}" if suffix else f"{stem}-{number}")
    candidate.write_bytes(content)
    return candidate


class DocumentSaver:
    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx

    async def receive(self, incoming: Incoming, document: Document) -> None:
        state = await self.ctx.chats.get(incoming.chat)
        settings = self.ctx.core.settings.agents.get(state.agent)
        if settings is None:
            await self.ctx.say(incoming.chat, f"Agent {state.agent} has no workspace.")
            return
        if document.file_size is not None and document.file_size > MAX_BYTES:
            await self.ctx.say(
                incoming.chat,
                f"That document is too large ({document.file_size:,} bytes); the Bot API "
                f"lets bots download at most {MAX_BYTES // (1024 * 1024)} MB.",
            )
            return
        content = await self._download(document)
        name = safe_name(document.file_name, f"document-{document.file_unique_id}")
        path = await asyncio.to_thread(store_in_inbox, settings.workspace, name, content)
        relative = path.relative_to(settings.workspace).as_posix()
        log.info("telegram: saved a document from user %d as %s", incoming.user_id, path)
        body = f"[document saved: {relative}]"
        if incoming.text:
            body += "\n" + incoming.text
        await self.ctx.core.inbox.submit(await self.ctx.envelope_for(incoming, state.agent, body))

    async def _download(self, document: Document) -> bytes:
        """The file's bytes; a failure raises, so the update is tried again."""
        try:
            file = await self.ctx.bot.get_file(document.file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError:
            log.warning("telegram: downloading document %s failed", document.file_unique_id)
            raise
