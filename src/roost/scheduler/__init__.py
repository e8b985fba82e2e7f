"""Scheduled jobs: their store, the loop that fires them, their runs and their API.

A feature over the core; when a job fires is ``roost.timing``'s, and the
``schedules:`` config model is ``roost.config.schedules``.

- ``service``: the Service; ``api``: `JobsApi`, what the CLI, WebSocket, Telegram and
  tools call; ``model``, ``errors``: jobs and their errors;
- ``store``, ``runs``: the ``jobs`` and ``job_runs`` tables; ``config_sync``: config
  jobs into the store;
- ``loop``, ``due_index``, ``planning``: sleeping until the next due job; ``firing``,
  ``runner``: a run is an envelope; ``finisher``: its answer becomes deliveries;
  ``recovery``, ``alerts``, ``job_events``: restarts, failures, events;
  ``turn_records``: what the inbox, the turns and the ledger recorded of a run;
- ``agent_tools``: ``schedule_job``, ``list_jobs``, ``cancel_job`` for agents;
  ``gateway_methods``: the ``jobs.*`` WebSocket methods (the client side of
  `roost jobs` is the command's: ``roost.cli.jobs_backend``).
"""

__all__ = [
    "agent_tools",
    "alerts",
    "api",
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
    "turn_records",
]
