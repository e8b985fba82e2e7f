"""Configuration: the YAML file, its schema, ``${VAR}`` secrets and clear errors.

The bottom of the core: everything may import it, it imports only ``roost.timing``
(and, until the Feature contract lands, the tool catalogue's names; issue #11).

- ``loader``: `load_settings`, find, read and validate the file; ``settings``: the
  resolved values the rest of Roost runs on;
- ``schema``: the file's keys (a public contract); ``schedules``: the ``schedules:``
  entries; ``origins``: web origins as ``gateway.allowed_origins`` takes them;
- ``errors``: `ConfigError`; ``environment``, ``redact``, ``shape``, ``keys``,
  ``fingerprint``: ``${VAR}``, secrets out of errors, YAML limits, "did you mean",
  the file's fingerprint.
"""

__all__ = [
    "environment",
    "errors",
    "fingerprint",
    "keys",
    "loader",
    "origins",
    "redact",
    "schedules",
    "schema",
    "settings",
    "shape",
]
