"""`roost open`: the control page of the running gateway, signed in.

The link carries the token in its fragment (``#token=…``): a browser never sends the
fragment to the server, so it is in no request, access log or proxy log; the page reads
it, signs in, and removes it from the address bar and the history.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated
from urllib.parse import quote, urlsplit, urlunsplit

import typer

from roost.cli.common import err_console, fail

# A gateway bound to every address is reached, from this machine, on loopback.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}


def open_page(
    ctx: typer.Context,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the link, do not open a browser.")
    ] = False,
) -> None:
    """Open the web control page of the running `roost run`, signed in (the link is printed)."""
    from roost.cli.ask_cmd import gateway_finder
    from roost.gateway.discovery import read_endpoint

    find = gateway_finder(ctx)
    location = find()
    endpoint = read_endpoint(find.home)
    if location is None or endpoint is None:
        fail(f"no gateway is running for {find.home}: start `roost run` first")
    if not location.token:
        fail(f"no gateway token found ({location.token_source}): start `roost run` once")
    link = sign_in_link(endpoint.http_url, location.token)
    print(link)
    err_console().print(
        "This link signs in: it holds the gateway token, share it with no one.", highlight=False
    )
    if not no_browser and browser_available():
        import webbrowser

        webbrowser.open(link, new=2)


def sign_in_link(http_url: str, token: str) -> str:
    """``http://host:port/#token=…`` (the fragment, never the query string)."""
    parts = urlsplit(http_url)
    host, _, port = parts.netloc.rpartition(":")
    netloc = f"{_ANY_ADDRESS.get(host, host)}:{port}" if host else parts.netloc
    return urlunsplit((parts.scheme, netloc, "/", "", "token=" + quote(token, safe="")))


def browser_available() -> bool:
    """A graphical browser can be started here (not a terminal one taking over the shell)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
