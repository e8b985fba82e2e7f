"""HTML to Markdown for ``http_fetch``: what a model reads best, at a fraction of the bytes.

markdownify (on beautifulsoup4 with the standard library's parser) was chosen over
trafilatura (better at finding the article, but ~20 MB with lxml and its friends),
html2text (GPL-3.0, in an MIT project) and selectolax (fast, but text without the
Markdown structure): pure Python, ~1.5 MB installed, kept up, MIT. A page's
``<main>`` or ``<article>`` is preferred to the whole body when it has one, scripts
and styles are dropped, and links are made absolute so the model can fetch them.

It runs in a worker thread (parsing a large page takes a while) and imports its
libraries there on first use, so neither the parsing nor the import (~0.5 s cold)
holds the event loop.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

DROPPED_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "object", "embed"]
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


def html_to_markdown(html: str, base_url: str) -> str:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(DROPPED_TAGS):
        tag.decompose()
    for link in soup.find_all("a", href=True):
        href = str(link["href"])
        if href.lower().startswith(("javascript:", "data:")):
            del link["href"]
        else:
            link["href"] = urljoin(base_url, href)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    content = soup.find("main") or soup.find("article") or soup.body or soup
    markdown = MarkdownConverter(heading_style="ATX").convert_soup(content)
    text = _BLANK_LINES.sub("\n\n", markdown).strip()
    return f"# {title}\n\n{text}" if title and not text.startswith(f"# {title}") else text
