"""The ``roost`` command: one module per command, imported only when that command runs.

The top layer: it may import anything below. ``main`` is the entry point (a plain
`roost run` goes straight to ``serve``), ``typer_app`` the command table; ``chat`` holds
the parts of `roost chat`; a command's client-side helpers sit next to it
(``jobs_backend``: where `roost jobs` sends its requests). Nothing is imported here,
so `roost ask` loads only what it needs.
"""

__all__ = [
    "ask_cmd",
    "chat",
    "chat_cmd",
    "common",
    "doctor_probes",
    "help_cmd",
    "info_cmds",
    "init_cmd",
    "jobs_backend",
    "jobs_cmd",
    "main",
    "plain_numbers",
    "run_cmd",
    "serve",
    "sessions_cmd",
    "telegram_cmds",
    "terminal_printer",
    "typer_app",
]
