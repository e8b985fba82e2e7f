"""The page's files, read once from the package, with the headers they are served with.

Static files live under ``/ui/<digest>/``: the digest is of every file's bytes, so a new
version of Roost gets new URLs and the browser may keep a file for a year (``immutable``)
without ever running yesterday's script against today's server. The page itself (``/``)
is revalidated on every load (``no-cache`` + ``ETag``): it names the current digest.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

PAGE = "index.html"
ASSET_ROOT_MARK = "{{ASSET_ROOT}}"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    cache_control: str


@dataclass(frozen=True)
class Assets:
    page: Asset
    files: dict[str, Asset]
    """By URL path (``/ui/<digest>/app.js``)."""
    root: str
    """``/ui/<digest>``."""

    @property
    def total_bytes(self) -> int:
        return len(self.page.body) + sum(len(asset.body) for asset in self.files.values())


def load_assets(static: Traversable | None = None) -> Assets:
    """Read the static directory (the package's own unless given)."""
    folder = static or resources.files("roost.control").joinpath("static")
    found = dict(_walk(folder, ""))
    if PAGE not in found:
        raise FileNotFoundError(f"the control page's {PAGE} is missing from {folder}")
    digest = hashlib.sha256()
    for name in sorted(found):
        digest.update(name.encode() + b"\0" + found[name] + b"\0")
    root = f"/ui/{digest.hexdigest()[:16]}"
    page_body = found.pop(PAGE).replace(ASSET_ROOT_MARK.encode(), root.encode())
    files = {f"{root}/{name}": _asset(name, body, ASSET_CACHE) for name, body in found.items()}
    return Assets(_asset(PAGE, page_body, PAGE_CACHE), files, root)


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.extend(_walk(entry, name + "/"))
        elif not entry.name.startswith("."):
            found.append((name, entry.read_bytes()))
    return found


def _asset(name: str, body: bytes, cache_control: str) -> Asset:
    suffix = "." + name.rpartition(".")[2]
    media_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, media_type, etag, cache_control)
