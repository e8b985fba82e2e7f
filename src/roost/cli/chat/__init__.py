"""The parts of `roost chat` (the command itself is `roost.cli.chat_cmd.chat`):

- `conversation`: the chat's state: connection, agent, session, the running turn;
- `commands`: the slash commands (/agent, /new, /history, /cost, ...);
- `ui`: how things are shown, on a terminal or plainly;
- `terminal`: the interactive prompt; `piped`: one message per line of stdin.

Nothing is imported here, so loading one part does not load the others (the prompt
needs prompt_toolkit, which a piped chat never loads).
"""

__all__ = [
    "commands",
    "conversation",
    "piped",
    "terminal",
    "ui",
]
