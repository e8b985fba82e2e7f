"""The failure limits' 60 s windows, on a manual clock; the Host/Origin rules' parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.config.errors import ConfigError
from roost.config.loader import load_settings
from roost.config.origins import normalize_origin
from roost.gateway.auth import FailureLimiter, Verdict
from roost.gateway.origin import BrowserGuard, host_name
from tests.conftest import ConfigWriter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_over_the_limit_is_limited_for_60_seconds() -> None:
    clock = Clock()
    limiter = FailureLimiter(per_address=10, total=100, clock=clock)
    assert [limiter.record_failure("10.0.0.1") for _ in range(10)] == [Verdict()] * 10
    assert limiter.record_failure("10.0.0.1") == Verdict("address", first=True)
    assert limiter.record_failure("10.0.0.2") == Verdict()  # other addresses are not
    clock.now += 59.9
    assert limiter.record_failure("10.0.0.1") == Verdict("address")
    clock.now += 0.1
    assert limiter.record_failure("10.0.0.1") == Verdict()


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    limiter = FailureLimiter(per_address=3, total=100, clock=clock)
    for _ in range(3):
        assert limiter.record_failure("10.0.0.1") == Verdict()
        clock.now += 20.5  # 3 within any 60 s, never 4
    assert limiter.record_failure("10.0.0.1") == Verdict()
    assert limiter.record_failure("10.0.0.1") == Verdict("address", first=True)


def test_the_total_cap_holds_whatever_the_source_address() -> None:
    clock = Clock()
    limiter = FailureLimiter(per_address=10, total=30, clock=clock)
    verdicts = [limiter.record_failure(f"10.0.1.{n}") for n in range(40)]
    assert verdicts[:30] == [Verdict()] * 30
    assert verdicts[30] == Verdict("total", first=True)
    assert verdicts[31:] == [Verdict("total")] * 9
    clock.now += 60
    assert limiter.record_failure("10.0.2.1") == Verdict()


def test_a_steady_trickle_under_the_total_is_not_limited() -> None:
    clock = Clock()
    limiter = FailureLimiter(per_address=10, total=30, clock=clock)
    for n in range(200):
        assert limiter.record_failure(f"10.0.3.{n % 250}") == Verdict(), n
        clock.now += 2.01  # just under 30 a minute


def test_host_and_origin_parsing() -> None:
    assert host_name("[::1]:18790") == "::1"
    assert host_name("LocalHost.:80") == "localhost"
    assert normalize_origin("HTTP://Example.COM:8080/") == "http://example.com:8080"
    assert normalize_origin("http://[::1]:5173") == "http://[::1]:5173"
    for bad in ("null", "example.com", "ftp://example.com", "http://example.com/app"):
        with pytest.raises(ValueError):
            normalize_origin(bad)
    guard = BrowserGuard("0.0.0.0", [], [])
    assert guard.refusal({"host": "192.168.1.5:18790"}) is None  # a LAN client by address
    assert guard.refusal({"host": "my-laptop.lan:18790"}) is not None
    named = BrowserGuard("my-laptop.lan", [], [])
    assert named.refusal({"host": "My-Laptop.lan:18790"}) is None


def test_bad_allowed_origins_and_hosts_are_config_errors(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    path = write_config(
        f"""\
        home: {tmp_path / "home"}
        gateway:
          allowed_origins: ["localhost:5173"]
          allowed_hosts: ["http://roost.example.com"]
        """
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert "gateway.allowed_origins: 'localhost:5173' is not an origin" in message
    assert "gateway.allowed_hosts: 'http://roost.example.com' should be a host name" in message
    good = write_config(
        f"""\
        home: {tmp_path / "home"}
        gateway:
          allowed_origins: ["http://LOCALHOST:5173/"]
          allowed_hosts: ["Roost.Example.com"]
        """
    )
    gateway = load_settings(good).gateway
    assert gateway.allowed_origins == ["http://localhost:5173"]
    assert gateway.allowed_hosts == ["roost.example.com"]
