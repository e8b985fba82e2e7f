"""Installed size of a fresh venv with Roost (runtime dependencies only) and its package count.

Builds a throwaway venv and runs `pip install <repo>` into it (packages come from the
registry, or pip's cache), then measures the venv on disk.

    python bench/install_size.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from bench.common import REPO, emit


def directory_size(path: Path) -> int:
    return sum(
        entry.stat().st_size
        for entry in path.rglob("*")
        if entry.is_file() and not entry.is_symlink()
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="roost-size-") as tmp:
        target = Path(tmp) / "venv"
        venv.create(target, with_pip=True)
        python = target / "bin" / "python"
        install = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise SystemExit(f"pip install failed:\n{install.stderr}")
        listing = subprocess.run(
            [python, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
            check=True,
            capture_output=True,
            text=True,
        )
        packages = [p["name"] for p in json.loads(listing.stdout)]
        own = [p for p in packages if p.lower() not in {"pip", "setuptools", "wheel"}]
        size = directory_size(target)
        bare = Path(tmp) / "bare"
        venv.create(bare, with_pip=True)
        bare_size = directory_size(bare)
    figures = {
        "venv_bytes": size,
        "venv_mb": round(size / 1e6, 1),
        "empty_venv_mb": round(bare_size / 1e6, 1),
        "packages_installed": len(own),
        "packages": sorted(own),
        "python": sys.version.split()[0],
    }
    emit(
        figures,
        f"venv with roost: {figures['venv_mb']} MB ({figures['empty_venv_mb']} MB of it an empty "
        f"venv with pip), {len(own)} packages (peers: nanobot 391 MB/89, OpenClaw 836 MB/330)",
    )


if __name__ == "__main__":
    main()
