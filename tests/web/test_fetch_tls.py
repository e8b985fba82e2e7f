"""http_fetch over https: the connection goes to the address that was checked (DNS
rebinding gains nothing), while TLS still names the host (SNI) and the certificate is
still verified against the host name, not the address connected to.

A local TLS server on 127.0.0.1 with a certificate for ``site.test`` signed by a CA
made here with ``cryptography``; the fetcher trusts that CA only. ``site.test`` has no
real DNS: a fetch that resolved it itself, instead of using the checked answer, fails.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from roost.web.addresses import AddressPolicy
from roost.web.fetch import Fetcher, FetchFailed, FetchLimits

BODY = b"pinned and verified"


def refused(why: str) -> str:
    return re.escape("the request failed: TLS certificate refused (") + ".*" + re.escape(why)


@dataclass
class Pki:
    ca_pem: bytes
    cert_file: Path
    key_file: Path

    def trust(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(directory: Path, server_names: list[str]) -> Pki:
    """A CA, and a server certificate it signed for ``server_names`` (DNS names)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Roost test CA"))
        .issuer_name(_name("Roost test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(server_names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in server_names]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file)


@dataclass
class TlsSite:
    """What the server saw: the SNI name of each handshake and each request's Host."""

    port: int
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    yield make_pki(tmp_path_factory.mktemp("pki"), ["site.test"])


async def _serve(pki: Pki, host: str = "127.0.0.1") -> tuple[asyncio.Server, TlsSite]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    site = TlsSite(port=0)

    def note_sni(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        site.sni.append(name)

    context.sni_callback = note_sni  # type: ignore[assignment]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Requests on one connection until the client closes it: a redirect keeps it
        # open, so a client that reused it for the next hop would be seen doing so.
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                for line in lines:
                    if line.lower().startswith("host:"):
                        site.hosts.append(line.split(":", 1)[1].strip())
                writer.write(_response(lines[0].split(" ")[1]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client closed, or gave up on the certificate
        finally:
            writer.close()

    server = await asyncio.start_server(answer, host, 0, ssl=context)
    site.port = server.sockets[0].getsockname()[1]
    return server, site


def _response(target: str) -> bytes:
    if target.startswith("/redirect?to="):
        location = target.removeprefix("/redirect?to=")
        return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
        + BODY
    )


@pytest.fixture
async def tls_site(pki: Pki) -> AsyncIterator[TlsSite]:
    server, site = await _serve(pki)
    async with server:
        yield site


class RebindingDNS:
    """Answers ``first`` to the first lookup, ``then`` to every later one."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first, then]
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return [self.answers[min(len(self.lookups), 2) - 1]]


async def fetch(url: str, dns: RebindingDNS, pki: Pki, allow: tuple[str, ...]) -> str:
    fetcher = Fetcher(dns, trust=pki.trust())
    try:
        page = await fetcher.fetch(url, AddressPolicy.allowing(allow), FetchLimits(timeout_s=10))
        return page.text
    finally:
        await fetcher.aclose()


async def test_https_goes_to_the_checked_address_with_the_name_in_tls(
    tls_site: TlsSite, pki: Pki
) -> None:
    dns = RebindingDNS("127.0.0.1", "169.254.169.254")
    url = f"https://site.test:{tls_site.port}/page"
    assert await fetch(url, dns, pki, allow=("site.test",)) == BODY.decode()
    assert dns.lookups == ["site.test"]  # one lookup: the one that was checked
    assert tls_site.sni == ["site.test"]  # the certificate was checked for the name
    assert tls_site.hosts == [f"site.test:{tls_site.port}"]
    # A second fetch meets the rebound answer, is refused, and connects nowhere.
    with pytest.raises(
        FetchFailed, match=r"site.test \(169.254.169.254\) is a cloud metadata address"
    ):
        await fetch(url, dns, pki, allow=("site.test",))
    assert dns.lookups == ["site.test", "site.test"]
    assert tls_site.sni == ["site.test"]


async def test_a_rebinding_answer_between_check_and_connect_is_never_used(
    tls_site: TlsSite, pki: Pki
) -> None:
    # The check passes on 127.0.0.1; had the connection looked the name up again, it
    # would meet 10.9.9.9, where nothing answers (and which is not allowed).
    dns = RebindingDNS("127.0.0.1", "10.9.9.9")
    fetcher = Fetcher(dns, trust=pki.trust())
    try:
        page = await fetcher.fetch(
            f"https://site.test:{tls_site.port}/",
            AddressPolicy.allowing(["127.0.0.1"]),
            FetchLimits(timeout_s=10),
        )
    finally:
        await fetcher.aclose()
    assert page.text == BODY.decode()
    assert dns.lookups == ["site.test"]


async def test_the_certificate_is_verified_against_the_host_name(
    tls_site: TlsSite, pki: Pki
) -> None:
    # other.test resolves to the same server, whose certificate is for site.test only.
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    with pytest.raises(FetchFailed, match=refused("not valid for 'other.test'")):
        await fetch(f"https://other.test:{tls_site.port}/", dns, pki, allow=("other.test",))
    assert tls_site.sni == ["other.test"]
    assert tls_site.hosts == []  # no request was sent over the refused connection


async def test_the_address_itself_does_not_pass_for_the_name(tls_site: TlsSite, pki: Pki) -> None:
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    with pytest.raises(FetchFailed, match=refused("not valid for '127.0.0.1'")):
        await fetch(f"https://127.0.0.1:{tls_site.port}/", dns, pki, allow=("127.0.0.1",))
    assert dns.lookups == []  # a literal address is not looked up
    assert tls_site.hosts == []


async def test_an_untrusted_certificate_is_refused(tls_site: TlsSite, tmp_path: Path) -> None:
    stranger = make_pki(tmp_path, ["site.test"])  # same name, another CA
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    with pytest.raises(FetchFailed, match=refused("unable to get local issuer certificate")):
        await fetch(f"https://site.test:{tls_site.port}/", dns, stranger, allow=("site.test",))
    assert tls_site.hosts == []


async def test_a_redirect_to_another_name_on_the_same_address_checks_that_name(
    tls_site: TlsSite, pki: Pki
) -> None:
    # The hop to other.test gets its own handshake, naming other.test: it fails.
    dns = RebindingDNS("127.0.0.1", "127.0.0.1")
    other = f"https://other.test:{tls_site.port}/"
    with pytest.raises(FetchFailed, match=refused("not valid for 'other.test'")):
        await fetch(
            f"https://site.test:{tls_site.port}/redirect?to={other}",
            dns,
            pki,
            allow=("site.test", "other.test"),
        )
    assert tls_site.sni == ["site.test", "other.test"]
    assert tls_site.hosts == [f"site.test:{tls_site.port}"]


async def test_a_connection_verified_for_one_name_never_serves_another(
    tls_site: TlsSite, pki: Pki
) -> None:
    # One fetcher, two fetches to the same address and port: the server keeps the first
    # connection open, verified for site.test. Reused for other.test, it would answer.
    fetcher = Fetcher(RebindingDNS("127.0.0.1", "127.0.0.1"), trust=pki.trust())
    policy = AddressPolicy.allowing(["127.0.0.1"])
    try:
        page = await fetcher.fetch(f"https://site.test:{tls_site.port}/", policy, FetchLimits())
        assert page.text == BODY.decode()
        with pytest.raises(FetchFailed, match=refused("not valid for 'other.test'")):
            await fetcher.fetch(f"https://other.test:{tls_site.port}/", policy, FetchLimits())
    finally:
        await fetcher.aclose()
    assert tls_site.sni == ["site.test", "other.test"]
    assert tls_site.hosts == [f"site.test:{tls_site.port}"]


async def test_https_to_a_checked_ipv6_address(pki: Pki) -> None:
    try:
        server, site = await _serve(pki, "::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    async with server:
        dns = RebindingDNS("::1", "169.254.169.254")
        text = await fetch(f"https://site.test:{site.port}/", dns, pki, allow=("site.test",))
    assert text == BODY.decode()
    assert site.sni == ["site.test"] and site.hosts == [f"site.test:{site.port}"]


def test_the_test_pki_is_what_it_claims(pki: Pki) -> None:
    cert = x509.load_pem_x509_certificate(pki.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["site.test"]
    assert names.get_values_for_type(x509.IPAddress) == []  # no IP: 127.0.0.1 must fail
