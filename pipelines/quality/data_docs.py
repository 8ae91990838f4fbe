"""Great Expectations Data Docs that open offline: the styles and scripts their pages load from CDNs
(Bootstrap, Font Awesome, bootstrap-table, jQuery, Vega …) served from beside the pages instead.

The files are the CDNs' own: each CDN serves an npm package's file, so ``make`` fetches those packages at
these exact versions from the npm registry once (``python -m pipelines.quality.data_docs fetch``, into
``vendor/data-docs/``, not committed), and each night's Data Docs get a copy and relative links. The
logo GE loads from its web-assets bucket with the data context's id in the query (a tracking request)
becomes the logo GE ships in the site itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from pipelines.core.config import PROJECT_ROOT

VENDOR = PROJECT_ROOT / "vendor" / "data-docs"

# CDN address in GE 1.24's page templates → (npm package@version, file in the package, or a folder)
ASSETS: dict[str, tuple[str, str]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": ("bootstrap@4.3.1", "dist/css/bootstrap.min.css"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap@4.3.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        ("@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css":
        ("@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    "font-awesome webfonts": ("@fortawesome/fontawesome-free@6.6.0", "webfonts"),  # all.min.css loads ../webfonts
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        ("bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        ("bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": ("popper.js@1.12.9", "dist/umd/popper.min.js"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.29.0", "build/vega-embed.min.js"),
}
# a local file cannot be fetched in CORS mode: a tag that now points at static/vendor/ drops both
CROSS_ORIGIN = re.compile(r'(<(?:script|link)\b[^>]*/vendor/[^>]*?)\s+(?:integrity|crossorigin)="[^"]*"')
TRACKED_LOGO = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*/logo-long\.png[^\"']*")


def local_path(package: str, path: str) -> str:
    """Where an asset lies under vendor/ (and under the site's static/vendor/): its package, then its path."""
    return f"{package.lstrip('@').replace('/', '__')}/{path}"


def fetch(dest: Path = VENDOR) -> Path:
    """Download the packages with `npm pack` from the npm registry and keep the files the pages use."""
    packages = sorted({package for package, _ in ASSETS.values()})
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "--silent", "--pack-destination", tmp, *packages], check=True,
                       stdout=subprocess.DEVNULL)
        staging = Path(tmp) / "out"
        for package, path in set(ASSETS.values()):
            name, version = package.rsplit("@", 1)
            tgz = Path(tmp) / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            with tarfile.open(tgz) as tar:
                for member in tar.getmembers():
                    inner = member.name.removeprefix("package/")
                    if member.isfile() and (inner == path or inner.startswith(path + "/")):
                        target = staging / local_path(package, inner)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(member).read())
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, dest)
    return dest


def available(vendor: Path = VENDOR) -> bool:
    return all((vendor / local_path(package, path)).exists() for package, path in ASSETS.values())


def localise(site: Path, vendor: Path = VENDOR) -> int:
    """Copy the assets into the site's static/vendor/ and point every page at them; returns the pages
    rewritten. Without the fetched assets the pages stay as GE wrote them."""
    if not available(vendor):
        return 0
    shutil.copytree(vendor, site / "static" / "vendor", dirs_exist_ok=True)
    pages = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        static = Path(os.path.relpath(site / "static", page.parent)).as_posix()
        new = TRACKED_LOGO.sub(f"{static}/images/logo-long.png", text)
        for url, (package, path) in ASSETS.items():
            if url.startswith("https://"):
                new = new.replace(f'"{url}"', f'"{static}/vendor/{local_path(package, path)}"')
        while CROSS_ORIGIN.search(new):
            new = CROSS_ORIGIN.sub(r"\1", new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            pages += 1
    return pages


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch"]:
        print(f"Data Docs assets: {fetch()}")
    else:
        sys.exit("usage: python -m pipelines.quality.data_docs fetch")
