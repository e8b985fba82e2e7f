"""http_fetch: public pages as text; loopback, private and metadata addresses refused,
whatever the notation, after DNS, on every redirect; limits on size, time and types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from roost.web.addresses import AddressPolicy
from roost.web.feature import readable
from roost.web.fetch import Fetcher, FetchFailed, FetchLimits
from tests.fakes.web_server import serving
from tests.web.site import Site


class FakeDNS:
    """A resolver with fixed answers that counts its lookups."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers[host]


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
async def base(site: Site) -> AsyncIterator[str]:
    async with serving(site.app()) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def fetch(
    url: str, dns: FakeDNS | None = None, allow: tuple[str, ...] = (), **limits: float
) -> str:
    fetcher = Fetcher(dns or FakeDNS({}))
    try:
        page = await fetcher.fetch(url, AddressPolicy.allowing(allow), FetchLimits(**limits))  # type: ignore[arg-type]
        return await readable(page)
    finally:
        await fetcher.aclose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "an IPv4-mapped IPv6 address"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://[2002:7f00:1::]/", "embedding 127.0.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]/", "embedding 169.254.169.254"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://10.1.2.3/", "a private address"),
        ("http://192.168.1.10:8080/", "a private address"),
        ("http://100.64.0.1/", "a shared (CGNAT) address"),
        ("http://0.0.0.0/", "the unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://2130706433/", "unusual notation"),
        ("http://0x7f.1/", "unusual notation"),
        ("http://017700000001/", "unusual notation"),
        ("http://127.1/", "unusual notation"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("http://user:hunter2@example.com/", "user name or password"),
        ("not a url", "only http and https"),
    ],
)
async def test_hostile_urls_are_refused_before_any_lookup(url: str, expected: str) -> None:
    dns = FakeDNS({})
    with pytest.raises(FetchFailed) as refused:
        await fetch(url, dns)
    assert expected in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert dns.lookups == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["127.0.0.1"], "evil.test (127.0.0.1) is a loopback address"),
        (["169.254.169.254"], "a cloud metadata address"),
        (["::1"], "a loopback address"),
        (["93.184.216.34", "10.0.0.5"], "a private address"),  # every answer is checked
    ],
)
async def test_a_dns_answer_pointing_inside_is_refused(answers: list[str], expected: str) -> None:
    with pytest.raises(FetchFailed) as refused:
        await fetch("https://evil.test/x", FakeDNS({"evil.test": answers}))
    assert expected in str(refused.value)


async def test_a_listed_host_is_fetched_at_the_address_that_was_checked(
    base: str, site: Site
) -> None:
    # site.test exists only in the fake DNS: the page can only be reached if the
    # connection goes to the address checked (no second lookup a rebinding could answer).
    dns = FakeDNS({"site.test": ["127.0.0.1"]})
    text = await fetch(f"http://site.test:{port_of(base)}/host", dns, allow=("site.test",))
    assert text == f"host=site.test:{port_of(base)}"
    assert dns.lookups == ["site.test"]


async def test_an_ipv6_address_is_sent_in_brackets_in_the_host_header() -> None:
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
        writer.write(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    try:
        server = await asyncio.start_server(answer, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await fetch(f"http://[::1]:{port}/", allow=("::1",)) == "ok"
    assert f"\r\nhost: [::1]:{port}\r\n".encode() in seen[0].lower()


async def test_allow_private_by_address_and_network(base: str) -> None:
    assert (await fetch(f"{base}/json", allow=("127.0.0.1",))) == '{"answer":42}'
    assert (await fetch(f"{base}/json", allow=("127.0.0.0/8",))) == '{"answer":42}'
    with pytest.raises(FetchFailed, match="loopback"):
        await fetch(f"{base}/json", allow=("10.0.0.0/8", "nas.local"))


async def test_a_listed_name_does_not_open_the_metadata_address() -> None:
    dns = FakeDNS({"nas.local": ["169.254.169.254"]})
    with pytest.raises(FetchFailed, match="cloud metadata"):
        await fetch("http://nas.local/", dns, allow=("nas.local",))


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://[::1]:{port}/secret",
        "http://2130706433:{port}/secret",
        "http://evil.test:{port}/secret",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_inside_is_refused(base: str, site: Site, target: str) -> None:
    # The site is reachable as site.test (listed); where it redirects to is checked anew.
    dns = FakeDNS({"site.test": ["127.0.0.1"], "evil.test": ["127.0.0.1"]})
    port = port_of(base)
    start = f"http://site.test:{port}/redirect?to={target.format(port=port)}"
    with pytest.raises(FetchFailed) as refused:
        await fetch(start, dns, allow=("site.test",))
    assert "refused" in str(refused.value) or "only http and https" in str(refused.value)
    assert "/secret" not in site.hits


async def test_a_redirect_to_a_listed_place_is_followed(base: str, site: Site) -> None:
    text = await fetch(f"{base}/redirect?to=/secret", allow=("127.0.0.1",))
    assert text == "internal secret"


async def test_redirects_are_capped(base: str) -> None:
    with pytest.raises(FetchFailed, match="more than 5 redirects"):
        await fetch(f"{base}/loop/0", allow=("127.0.0.1",))


async def test_html_becomes_markdown_without_scripts(base: str) -> None:
    text = await fetch(f"{base}/page", allow=("127.0.0.1",))
    assert text.startswith("# Roost & friends\n\n# Hello")
    assert f"[docs]({base}/docs)" in text and "**not**" in text
    assert "steal" not in text and "color" not in text and "menu" not in text


async def test_only_text_types_are_read(base: str) -> None:
    with pytest.raises(FetchFailed, match="is image/png; http_fetch reads text"):
        await fetch(f"{base}/image", allow=("127.0.0.1",))
    with pytest.raises(FetchFailed, match="answered HTTP 404"):
        await fetch(f"{base}/missing", allow=("127.0.0.1",))


async def test_a_big_body_is_cut_at_the_size_limit(base: str) -> None:
    text = await fetch(f"{base}/big", allow=("127.0.0.1",), max_bytes=20_000)
    assert text.startswith("x" * 20_000)
    assert text.endswith("[the page was longer than the size limit; its start is shown]")
    assert len(text) < 20_100


async def test_a_body_that_never_ends_is_cut_at_the_time_limit(base: str) -> None:
    with pytest.raises(FetchFailed, match=r"no complete answer within 0\.5 s"):
        await asyncio.wait_for(fetch(f"{base}/slow", allow=("127.0.0.1",), timeout_s=0.5), 10)
