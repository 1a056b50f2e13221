"""MkDocs hooks (``hooks:`` in mkdocs.yml): the vendored JavaScript becomes part of the site.

Material for MkDocs draws Mermaid diagrams with the ``mermaid`` it finds on the page, and
loads one from a CDN only when there is none. ``make docs`` extracts Mermaid from its npm
package into a folder (``tools/npm_asset.py``) and names it in ``DOCS_VENDOR_DIR``; this hook
adds that folder's files to the site under ``assets/vendor/``, where mkdocs.yml's
``extra_javascript`` loads ``mermaid.min.js`` before the diagrams are drawn. The site then
needs nothing from outside (``tests/test_browser.py`` checks it in Chromium).
"""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

VENDOR_ENV = "DOCS_VENDOR_DIR"
SITE_FOLDER = "assets/vendor"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add every file of ``$DOCS_VENDOR_DIR`` to the site, under ``assets/vendor/``."""
    folder = Path(os.environ.get(VENDOR_ENV, ""))
    if not os.environ.get(VENDOR_ENV) or not folder.is_dir():
        raise PluginError(
            f"the diagrams need Mermaid: build with `make docs` (${VENDOR_ENV} names its folder)"
        )
    for path in sorted(folder.iterdir()):
        files.append(File.generated(config, f"{SITE_FOLDER}/{path.name}", abs_src_path=str(path)))
    return files
