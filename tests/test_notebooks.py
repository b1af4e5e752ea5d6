"""Every notebook in colabs/ runs top to bottom without error."""

import glob
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "colabs", "*.ipynb")))
EXPECTED_NOTEBOOKS = (
    "control.ipynb",
    "export.ipynb",
    "extending.ipynb",
    "proxies.ipynb",
    "quickstart.ipynb",
)


def test_there_is_a_quickstart_notebook():
    assert any(path.endswith("quickstart.ipynb") for path in NOTEBOOKS)


def test_the_research_notebooks_are_all_there():
    names = {os.path.basename(path) for path in NOTEBOOKS}
    assert set(EXPECTED_NOTEBOOKS) <= names, sorted(set(EXPECTED_NOTEBOOKS) - names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_stored_clean_with_a_title(path):
    # nbformat 4 JSON, a markdown title first, and no stored outputs: a
    # notebook is committed as source, its results come from running it.
    with open(path) as handle:
        notebook = json.load(handle)
    assert notebook["nbformat"] == 4
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "".join(first["source"]).startswith("# ")
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def _registries():
    """Every named registry of the loaded wannflax modules, and the activation table."""
    from wannflax import activations
    from wannflax.registry import Registry

    found = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("wannflax") or module is None:
            continue
        for value in vars(module).values():
            if isinstance(value, Registry):
                found[id(value)] = value
    return list(found.values()), activations._TABLE


@pytest.fixture
def restored_registries():
    """Undoes a notebook's registrations once it has run.

    The extension notebook registers an activation, a proxy and a data set;
    in a fresh Colab process that is its point, but here later tests share the
    process and some of them list a registry's exact contents.
    """
    import wannflax  # noqa: F401 - loads the modules whose registries are saved.

    registries, table = _registries()
    saved = [(registry, dict(registry._entries)) for registry in registries]
    saved_table = list(table)
    yield
    for registry, entries in saved:
        registry._entries.clear()
        registry._entries.update(entries)
    table[:] = saved_table


# The quickstart runs in every suite; the research notebooks (20-40 s each)
# are marked slow to keep the default suite within its time budget: run them
# with `pytest -m slow tests/test_notebooks.py`.
_RUNS = [
    path
    if path.endswith("quickstart.ipynb")
    else pytest.param(path, marks=pytest.mark.slow)
    for path in NOTEBOOKS
]


@pytest.mark.parametrize("path", _RUNS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path, restored_registries):
    with open(path) as handle:
        notebook = json.load(handle)
    namespace = {"__name__": "__notebook__"}
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # Shell and magic lines are for Colab set-up, not for the test run.
        lines = [
            line
            for line in source.splitlines()
            if not line.lstrip().startswith(("!", "%"))
        ]
        exec(
            compile(
                "\n".join(lines), f"{os.path.basename(path)}[cell {index}]", "exec"
            ),
            namespace,
        )
