"""`roost chat` on a terminal: a prompt with history (``<home>/chat_history``) and arrow
keys. Imported only then: a piped chat never loads prompt_toolkit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout

if TYPE_CHECKING:
    from roost.cli.chat.conversation import Chat


async def run_interactive(room: Chat, home: Path) -> int:
    """Prompt and handle lines until the user leaves; the exit code (always 0)."""
    prompt: PromptSession[str] = PromptSession(history=_history(home))
    room.ui.info(
        f"Talking to {room.agent} (session {room.session}) through {room.client.url}. "
        "/help for commands."
    )
    pressed_ctrl_c = False
    while True:
        try:
            # Only around the prompt: what arrives meanwhile (a reply delivered after a
            # reconnect, a message from an agent) prints above it. A turn's streamed
            # text is written directly, so it is all out before the next prompt.
            with patch_stdout(raw=True):
                line = await prompt.prompt_async(
                    lambda: FormattedText([("bold", room.agent), ("", "> ")])
                )
        except KeyboardInterrupt:
            if pressed_ctrl_c:
                break
            pressed_ctrl_c = True
            room.ui.dim("(Ctrl+C again or Ctrl+D to quit)")
            continue
        except EOFError:
            break
        pressed_ctrl_c = False
        if not await room.handle(line):
            break
    return 0


def _history(home: Path) -> History:
    """The prompt's history file, or one kept in memory when that file cannot be written."""
    try:
        (home / "chat_history").touch(exist_ok=True)
        return FileHistory(str(home / "chat_history"))
    except OSError:
        return InMemoryHistory()
