"""Writes the configs and API references in docs/ from the code.

``python -m wannflax.docs`` regenerates ``docs/configs.md`` (every field of
every ``configs/*.py``, with its meaning from ``wannflax.config_reference``)
and ``docs/api.md`` (the docstrings of every public module, class and
function under ``wannflax/``). ``python -m wannflax.docs --check`` writes
nothing and exits non-zero, naming each file that differs from what would be
generated. Run it from a checkout with the ``[test]`` extras installed: the
reference lists names from registries that the optional packages fill.

``configs`` renders the configs reference, ``api`` the API reference and
``markdown`` the docstrings in it; this module writes and checks the files.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from wannflax.docs.api import (
    API_FILE,
    FLAX_MODULE_ARGUMENTS,
    MAX_SHOWN_ITEMS,
    PACKAGE,
    REGENERATE,
    REPO_ROOT,
    ApiEntry,
    api_entries,
    format_signature,
    missing_docstrings,
    module_entries,
    own_docstring,
    public_modules,
    render_api,
)
from wannflax.docs.configs import (
    CONFIG_DIR,
    CONFIGS_FILE,
    DEFAULT_CONFIG,
    field_type,
    field_values,
    find_registries,
    flatten_config,
    format_value,
    load_configs,
    render_configs,
    resolve_choices,
    stale_fields,
    undocumented_fields,
)
from wannflax.docs.markdown import (
    CODE_SECTIONS,
    ENTRY_SECTIONS,
    SECTION_TITLES,
    docstring_markdown,
)

DOCS_DIR = os.path.join(REPO_ROOT, "docs")

__all__ = [
    "API_FILE",
    "CODE_SECTIONS",
    "CONFIGS_FILE",
    "CONFIG_DIR",
    "DEFAULT_CONFIG",
    "DOCS_DIR",
    "ENTRY_SECTIONS",
    "FLAX_MODULE_ARGUMENTS",
    "MAX_SHOWN_ITEMS",
    "PACKAGE",
    "REGENERATE",
    "REPO_ROOT",
    "SECTION_TITLES",
    "ApiEntry",
    "api_entries",
    "docstring_markdown",
    "field_type",
    "field_values",
    "find_registries",
    "flatten_config",
    "format_signature",
    "format_value",
    "generate",
    "load_configs",
    "main",
    "missing_docstrings",
    "module_entries",
    "outdated_files",
    "own_docstring",
    "public_modules",
    "render_api",
    "render_configs",
    "resolve_choices",
    "stale_fields",
    "undocumented_fields",
    "write_docs",
]


def generate() -> dict[str, str]:
    """``{file name in docs/: text}`` as the code stands now."""
    return {
        CONFIGS_FILE: render_configs(load_configs()),
        API_FILE: render_api(),
    }


def outdated_files(docs_dir: str = DOCS_DIR) -> list[str]:
    """Paths of the files in ``docs_dir`` that differ from the generated ones."""
    stale = []
    for name, text in generate().items():
        path = os.path.join(docs_dir, name)
        try:
            with open(path, encoding="utf-8") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def write_docs(docs_dir: str = DOCS_DIR) -> list[str]:
    """Writes the generated files into ``docs_dir``; returns their paths."""
    os.makedirs(docs_dir, exist_ok=True)
    written = []
    for name, text in generate().items():
        path = os.path.join(docs_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate docs/, or with ``--check`` report stale files.

    Args:
      argv: the arguments after the program name (default: sys.argv[1:]).

    Returns:
      The exit status: 0, or 1 when ``--check`` finds a file out of date.
    """
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description="Generate docs/configs.md and docs/api.md."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming each file that is out of date",
    )
    parser.add_argument("--docs-dir", default=DOCS_DIR, help="where the files live")
    args = parser.parse_args(argv)
    if args.check:
        stale = outdated_files(args.docs_dir)
        for path in stale:
            print(f"{path} is out of date; run `{REGENERATE}`.", file=sys.stderr)
        return 1 if stale else 0
    for path in write_docs(args.docs_dir):
        print(f"wrote {path}")
    return 0
