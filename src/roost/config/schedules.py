"""The ``schedules:`` entries of the configuration file. Key names are a public contract.

Expressions and zones are checked here, at load time, with the same parser the
scheduler uses (`roost.timing`), so a typo is reported against its key before anything
runs. The model lives in the configuration, not the scheduler, so that the configuration
does not depend on a feature above it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roost.timing import (
    CatchUpPolicy,
    Schedule,
    build_schedule,
    check_one_kind,
    is_relative_at,
    parse_at,
    parse_cron,
    parse_every,
    resolve_zone,
)

_ADDRESS = re.compile(
    r"^(?:telegram:(?:-?\d+|@[A-Za-z0-9_]+)|ws:[A-Za-z0-9_.:-]+|agent:[A-Za-z0-9_.-]+)$"
)
_ADDRESS_HELP = "use telegram:<chat id or @name>, ws:<client id>, agent:<name>, or none"


def is_delivery_address(address: str) -> bool:
    """Whether ``address`` is somewhere a job's answers can go (as ``deliver`` accepts)."""
    return bool(_ADDRESS.match(address))


class ScheduleConfig(BaseModel):
    """One scheduled job: when it fires, which agent runs what, and where results go."""

    # Unknown keys are almost always typos; refusing them names the key for the user.
    model_config = ConfigDict(extra="forbid")

    cron: str | None = None
    every: str | None = None
    at: str | None = None
    timezone: str | None = None
    """IANA zone for cron and naive ``at`` times; None means the machine's zone."""
    agent: str = Field(min_length=1)
    prompt: str
    session: str = Field(default="isolated", min_length=1)
    """``isolated`` for a fresh session per run, otherwise a fixed session key."""
    deliver: list[str] = Field(default_factory=list)
    catch_up: CatchUpPolicy = "once"
    overlap: Literal["skip", "queue"] = "skip"
    model: str | None = None
    timeout_s: float = Field(default=600.0, gt=0)
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is not None:
            # Field syntax does not depend on the zone; the zone is checked on its own key.
            parse_cron(value, ZoneInfo("UTC"))
        return value

    @field_validator("every")
    @classmethod
    def _every_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_every(value)
        return value

    @field_validator("at")
    @classmethod
    def _at_is_absolute(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if is_relative_at(value):
            raise ValueError(
                f"at '{value}' is relative, which only makes sense when a job is created; "
                "in the config file use a timestamp like 2026-12-01T09:00"
            )
        parse_at(value, ZoneInfo("UTC"), datetime.now(ZoneInfo("UTC")))
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_zone(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is empty; say what the agent should do on each run")
        return value

    @field_validator("deliver", mode="before")
    @classmethod
    def _deliver_as_list(cls, value: Any) -> Any:
        # YAML users write `deliver: none` or a single address as often as a list.
        if value is None or value == "none":
            return []
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("deliver")
    @classmethod
    def _addresses_valid(cls, value: list[str]) -> list[str]:
        if value == ["none"]:
            return []
        for index, address in enumerate(value):
            if address == "none":
                raise ValueError(f"deliver[{index}]: 'none' cannot be combined with addresses")
            if not _ADDRESS.match(address):
                raise ValueError(
                    f"deliver[{index}]: '{address}' is not a delivery address; {_ADDRESS_HELP}"
                )
        return value

    @field_validator("model")
    @classmethod
    def _model_has_provider(cls, value: str | None) -> str | None:
        if value is None:
            return None
        provider, _, model_id = value.partition("/")
        if not provider or not model_id:
            raise ValueError(
                f"'{value}' should be provider-name/model-id, for example claude/claude-sonnet-4-5"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ScheduleConfig:
        check_one_kind(cron=self.cron, every=self.every, at=self.at)
        return self

    def zone(self) -> ZoneInfo:
        """The job's zone: ``timezone`` or the machine's own."""
        return resolve_zone(self.timezone)

    def build_schedule(self, now: datetime, anchor: datetime | None = None) -> Schedule:
        """The timing object for this job; ``anchor`` is when an ``every`` job was created."""
        return build_schedule(
            cron=self.cron, every=self.every, at=self.at, zone=self.zone(), now=now, anchor=anchor
        )
