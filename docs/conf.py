"""Sphinx configuration of the hardsample documentation."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hardsample  # noqa: E402

project = "hardsample"
author = "hardsample developers"
copyright = "2026, hardsample developers"
release = version = hardsample.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
myst_heading_anchors = 3
suppress_warnings = ["config.cache"]
html_theme = "pydata_sphinx_theme" if os.environ.get("HARDSAMPLE_DOCS_THEME", "1") == "1" else "alabaster"
html_static_path = []

# The gallery runs every example (each well under a minute on a CPU). Set
# HARDSAMPLE_DOCS_GALLERY=0 to build the pages without running them (faster CI).
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": os.environ.get("HARDSAMPLE_DOCS_GALLERY", "1") == "1",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}
intersphinx_mapping = {}


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Document hardsample's own API, not what scikit-learn's mixins add."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_members)
