"""``http_fetch``'s HTTP side: one GET, redirects followed by hand, every hop checked.

For each hop the host is resolved once (the ``Resolver`` given, the system's by
default), every address is checked (``addresses.AddressPolicy``), and the request
goes to the first address itself: the URL's host is replaced by that address, the
``Host`` header and TLS's SNI (and so certificate checking) keep the name. No second
lookup happens, so a DNS answer that changes after the check (rebinding) is never
used. Connections are not kept for reuse: one opened for a name must not serve
another name on the same address (its certificate was checked for the first).

Limits: http and https only, no credentials in URLs, at most ``MAX_REDIRECTS``
redirects, the whole fetch within ``timeout_s``, the body read as a stream and cut
at ``max_bytes`` (decompressed bytes: a small gzip bomb is cut too), content types
that are text only. Proxies from the environment are ignored (``trust_env=False``):
a proxy would resolve names itself, after the check.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from roost.web.addresses import (
    AddressPolicy,
    AddressRefused,
    Resolver,
    literal_address,
    system_resolver,
)

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "Roost-http_fetch/1 (an AI agent's page fetch)"
ACCEPT = "text/html, text/*;q=0.9, application/json;q=0.8, application/xml;q=0.7"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")
TEXT_SUFFIXES = ("+json", "+xml")


class FetchFailed(Exception):
    """A fetch that did not give a page; the message is for the model."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 1_000_000
    timeout_s: float = 20.0


@dataclass(frozen=True)
class Page:
    url: str
    """Where the page was found (after redirects)."""
    content_type: str
    text: str
    truncated: bool


class Fetcher:
    def __init__(
        self, resolver: Resolver = system_resolver, *, trust: ssl.SSLContext | None = None
    ) -> None:
        """``trust``: the certificates https pages are checked against (default: the
        public CAs httpx ships, ``certifi``); a test passes its own CA's."""
        self._resolver = resolver
        self._trust = trust
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                verify=self._trust if self._trust is not None else True,
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, policy: AddressPolicy, limits: FetchLimits) -> Page:
        try:
            async with asyncio.timeout(limits.timeout_s):
                return await self._follow(url, policy, limits)
        except TimeoutError:
            raise FetchFailed(f"no complete answer within {limits.timeout_s:g} s") from None
        except AddressRefused as exc:
            raise FetchFailed(f"refused: {exc}") from None
        except httpx.HTTPError as exc:
            refused = _certificate_refusal(exc)
            if refused is not None:
                raise FetchFailed(
                    f"the request failed: TLS certificate refused ({refused})"
                ) from None
            raise FetchFailed(f"the request failed: {type(exc).__name__}") from None

    async def _follow(self, url: str, policy: AddressPolicy, limits: FetchLimits) -> Page:
        current = checked_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = await self._pinned_request(current, policy, limits)
            response = await self._http().send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    current = checked_url(urljoin(str(current), location))
                    continue
                return await _read(response, current, limits)
            finally:
                await response.aclose()
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")

    async def _pinned_request(
        self, url: httpx.URL, policy: AddressPolicy, limits: FetchLimits
    ) -> httpx.Request:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = literal_address(host)
        if literal is not None:
            candidates = [literal]
        else:
            answers = await self._resolver(host, port)
            candidates = [a for a in (literal_address(answer) for answer in answers) if a]
            if not candidates:
                raise AddressRefused(f"'{host}' has no address")
        for address in candidates:  # every answer: the connection may use any of them
            policy.check(host, address)
        host_header = url.netloc.decode("ascii")  # an IPv6 address in brackets, as HTTP wants
        # SNI, and so the certificate check, for the name, not the address connected to.
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        return self._http().build_request(
            "GET",
            url.copy_with(host=str(candidates[0])),
            headers={"Host": host_header},
            extensions=extensions,
            timeout=limits.timeout_s,
        )


def _certificate_refusal(exc: BaseException) -> str | None:
    """Why the server's certificate was refused (``Hostname mismatch, certificate is not
    valid for 'x'``), when that is what ended the request: the model can say so."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message).rstrip(".") or "not verified"
        seen = seen.__cause__ or seen.__context__
    return None


def checked_url(text: str) -> httpx.URL:
    """The URL, if it is one ``http_fetch`` may try at all (before any lookup)."""
    try:
        url = httpx.URL(text.strip())
    except httpx.InvalidURL as exc:
        raise FetchFailed(f"not a valid URL: {exc}") from None
    if url.scheme not in {"http", "https"}:
        raise FetchFailed(f"only http and https URLs are fetched, not '{url.scheme or '?'}:'")
    if not url.host:
        raise FetchFailed("the URL has no host")
    if url.userinfo:
        raise FetchFailed("URLs with a user name or password are not fetched")
    return url.copy_with(fragment=None)


async def _read(response: httpx.Response, url: httpx.URL, limits: FetchLimits) -> Page:
    if response.status_code >= 400 or response.status_code < 200:
        raise FetchFailed(f"{url} answered HTTP {response.status_code} {response.reason_phrase}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not _is_text(content_type):
        raise FetchFailed(
            f"{url} is {content_type}; http_fetch reads text, HTML, JSON and XML only"
        )
    body = bytearray()
    truncated = False
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            del body[limits.max_bytes :]
            truncated = True
            break
    if b"\x00" in body[:8192]:
        raise FetchFailed(f"{url} is binary data, not text")
    try:
        text = bytes(body).decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = bytes(body).decode("utf-8", errors="replace")
    return Page(str(url), content_type or "text/plain", text, truncated)


def _is_text(content_type: str) -> bool:
    return content_type.startswith(TEXT_TYPES) or content_type.endswith(TEXT_SUFFIXES)
