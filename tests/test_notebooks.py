"""Every notebook in colabs/ runs top to bottom without error."""

import glob
import json
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "colabs", "*.ipynb")))


def test_there_is_a_quickstart_notebook():
    assert any(path.endswith("quickstart.ipynb") for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_top_to_bottom(path):
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
