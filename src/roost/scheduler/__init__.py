"""Scheduled jobs: their store, the loop that fires them, their runs and their API.

A feature over the core; when a job fires is ``roost.timing``'s, and the
``schedules:`` config model is ``roost.config.schedules``.

- ``service``: the Service; ``api``: `JobsApi`, what the CLI, WebSocket, Telegram and
  tools call; ``model``, ``errors``: jobs and their errors;
- ``store``, ``runs``: the ``jobs`` and ``job_runs`` tables; ``config_sync``: config
  jobs into the store;
- ``loop``, ``due_index``, ``planning``: sleeping until the next due job; ``firing``,
  ``runner``: a run is an envelope; ``finisher``: its answer becomes deliveries;
  ``recovery``, ``alerts``, ``job_events``, ``turn_facts``: restarts, failures, events;
- ``gateway_methods``, ``cli_backend``: the ``jobs.*`` WebSocket methods and
  `roost jobs` (known exceptions to the layers, issue #11).
"""

__all__ = [
    "alerts",
    "api",
    "cli_backend",
    "config_sync",
    "due_index",
    "errors",
    "finisher",
    "firing",
    "gateway_methods",
    "job_events",
    "loop",
    "model",
    "planning",
    "recovery",
    "runner",
    "runs",
    "service",
    "store",
    "turn_facts",
]
