"""The generated references stay complete and current, and the README runs.

docs/configs.md and docs/api.md are written by ``python -m wannflax.docs``;
these tests fail when a config field lacks a meaning, when the reference
keeps a field no config has, when a public object lacks a docstring, or when
the committed files differ from what the code generates now.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
import types

import pytest

from wannflax import docs
from wannflax.config_reference import FIELDS, GROUPS
from wannflax.datasets import DATASETS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
CONFIG_NAMES = sorted(
    name[:-3]
    for name in os.listdir(docs.CONFIG_DIR)
    if name.endswith(".py") and not name.startswith("_")
)


@pytest.fixture(scope="module")
def configs():
    return docs.load_configs()


@pytest.fixture(scope="module")
def generated():
    """The generator's output in a fresh process.

    The reference lists each registry's names when it is generated, and
    other test modules register their own components in this process.
    """
    script = "import json, wannflax.docs as d; print(json.dumps(d.generate()))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def _readme_python_blocks():
    with open(README, encoding="utf-8") as handle:
        return re.findall(r"```python\n(.*?)```", handle.read(), re.DOTALL)


# -- the configs reference ---------------------------------------------------------


def test_every_config_file_is_loaded(configs):
    # default first (the column the reference calls Default), then by name.
    assert list(configs) == ["default"] + [n for n in CONFIG_NAMES if n != "default"]


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_every_leaf_field_of_the_config_has_a_meaning(configs, name):
    missing = [
        field for field in docs.flatten_config(configs[name]) if field not in FIELDS
    ]
    assert not missing, (
        f"configs/{name}.py has fields without an entry in "
        f"wannflax/config_reference.py FIELDS: {', '.join(missing)}"
    )


def test_the_reference_has_no_entry_for_a_field_no_config_has(configs):
    stale = docs.stale_fields(configs)
    assert not stale, (
        "wannflax/config_reference.py documents fields that no configs/*.py has: "
        + ", ".join(stale)
    )


def test_every_entry_has_a_known_group_and_a_meaning():
    bad = [
        field
        for field, doc in FIELDS.items()
        if doc.group not in GROUPS or len(doc.meaning.split()) < 5
    ]
    assert not bad, f"entries without a group of GROUPS or a real meaning: {bad}"


def test_a_field_without_a_meaning_is_named_with_its_config(tmp_path):
    # The check above can fail: an extra field in a config is reported by
    # name and config, and the generator refuses to render it.
    (tmp_path / "extra.py").write_text(
        "import ml_collections\n\n\n"
        "def get_config():\n"
        '    """A config with one field the reference lacks."""\n'
        "    config = ml_collections.ConfigDict()\n"
        "    config.seed = 0\n"
        "    config.search = ml_collections.ConfigDict()\n"
        "    config.search.unheard_of = 3\n"
        "    return config\n"
    )
    configs = docs.load_configs(str(tmp_path))
    assert docs.undocumented_fields(configs) == [("search.unheard_of", "extra")]
    with pytest.raises(ValueError, match=r"search\.unheard_of \(configs/extra\.py\)"):
        docs.render_configs(configs)


def test_flatten_config_gives_dotted_leaf_names():
    nested = {"seed": 0, "search": {"pop_size": 8, "weight_values": [1.0, -1.0]}}
    assert docs.flatten_config(nested) == {
        "seed": 0,
        "search.pop_size": 8,
        "search.weight_values": [1.0, -1.0],
    }


def test_the_configs_reference_gives_every_field_its_default_and_meaning(generated):
    text = generated[docs.CONFIGS_FILE]
    for field, doc in FIELDS.items():
        assert f"\n### `{field}`\n" in text, field
        assert doc.meaning in text, field
    # Two entries spelled out: one from configs/default.py, one it lacks.
    assert (
        "### `search.pop_size`\n\n- Type: `int`\n- Default: `256`\n"
        "- Other configs: `128` (brax_ant, iris, swingup, xor); "
        "`32` (brax_inverted_pendulum); `64` (cartpole); as the default: digits\n"
    ) in text
    assert (
        "### `train.strategy`\n\n- Type: `str`\n- Default: -\n"
        '- Other configs: `"OpenES"` (brax_ant, brax_inverted_pendulum, cartpole, '
        "swingup)\n"
    ) in text


def test_registry_fields_list_the_registered_names_at_generation(generated):
    names = ", ".join(f"`{name}`" for name in DATASETS.names())
    assert (
        f"Choices (`wannflax.datasets.DATASETS`): {names}." in generated["configs.md"]
    )


def test_the_reference_says_how_to_override_and_that_lists_need_a_file(generated):
    text = generated[docs.CONFIGS_FILE]
    assert "--config.search.pop_size=64" in text
    assert "list-valued fields" in text and "cannot be set by flags" in text


# -- the API reference -----------------------------------------------------------


def test_every_public_class_and_function_has_a_docstring():
    missing = docs.missing_docstrings()
    assert not missing, "public objects without a docstring: " + ", ".join(missing)


def test_the_api_reference_covers_every_public_module(generated):
    text = generated[docs.API_FILE]
    for module in docs.public_modules():
        assert f"\n## {module.__name__}\n" in text, module.__name__
    # Modules in name order, a stable order.
    headings = re.findall(r"^## (wannflax\S*)$", text, re.MULTILINE)
    assert headings == sorted(headings)


def test_private_names_are_left_out_and_public_ones_kept():
    module = types.ModuleType("wannflax_fake")

    def documented(a: int, b: str = "x") -> bool:
        """Says yes."""
        return True

    def _hidden():
        """Private."""

    def bare():
        pass

    for function in (documented, _hidden, bare):
        function.__module__ = module.__name__
        setattr(module, function.__name__, function)

    entries = docs.module_entries(module)
    assert [(e.qualified_name, e.docstring) for e in entries] == [
        ("wannflax_fake.documented", "Says yes."),
        ("wannflax_fake.bare", ""),
    ]
    assert entries[0].signature == "def documented(a: int, b: str = 'x') -> bool"


def test_an_undocumented_dataclass_counts_as_undocumented():
    # dataclasses writes "Name(field: type)" as the docstring of a class
    # that has none; that is not documentation.
    @dataclasses.dataclass
    class Settings:
        size: int = 1

    assert docs.own_docstring(Settings) == ""


def test_google_docstrings_become_markdown():
    doc = (
        "Scores a thing.\n\n"
        "Args:\n"
        "  x: the input,\n"
        "    over two lines.\n"
        "  y: labels.\n\n"
        "Returns:\n"
        "  A float.\n\n"
        "Example:\n"
        "  score(x, y)\n"
    )
    assert docs.docstring_markdown(doc) == (
        "Scores a thing.\n\n"
        "**Args:**\n\n"
        "- `x`: the input, over two lines.\n"
        "- `y`: labels.\n\n"
        "**Returns:**\n\n"
        "A float.\n\n"
        "**Example:**\n\n"
        "```python\n"
        "score(x, y)\n"
        "```"
    )


# -- generated files -------------------------------------------------------------


@pytest.mark.parametrize("name", [docs.CONFIGS_FILE, docs.API_FILE])
def test_the_committed_file_equals_the_generated_one(generated, name):
    path = os.path.join(docs.DOCS_DIR, name)
    with open(path, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == generated[name], (
        f"docs/{name} is out of date; run `python -m wannflax.docs`."
    )


def test_the_generated_files_do_not_depend_on_where_the_checkout_lies(generated):
    # CI checks the committed files in a fresh clone at another path.
    for name, text in generated.items():
        assert docs.REPO_ROOT not in text, name
    assert "'<repo>/docs'" in generated[docs.API_FILE]


def test_generation_is_deterministic(generated):
    script = "import json, wannflax.docs as d; print(json.dumps(d.generate()))"
    again = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(again.stdout) == generated
    # Object addresses would change from process to process.
    assert not re.search(r" at 0x[0-9a-fA-F]+", generated[docs.API_FILE])


def test_check_names_the_stale_file_and_write_brings_it_current(tmp_path, capsys):
    docs_dir = str(tmp_path)
    assert docs.main(["--check", "--docs-dir", docs_dir]) == 1
    stderr = capsys.readouterr().err
    assert os.path.join(docs_dir, "configs.md") in stderr
    assert os.path.join(docs_dir, "api.md") in stderr

    assert docs.main(["--docs-dir", docs_dir]) == 0
    assert docs.main(["--check", "--docs-dir", docs_dir]) == 0

    with open(os.path.join(docs_dir, "api.md"), "a", encoding="utf-8") as handle:
        handle.write("a hand edit\n")
    capsys.readouterr()
    assert docs.main(["--check", "--docs-dir", docs_dir]) == 1
    stderr = capsys.readouterr().err
    assert "api.md is out of date" in stderr
    assert "configs.md" not in stderr


# -- the README ------------------------------------------------------------------


def test_the_readme_has_a_section_with_a_snippet_per_stage():
    with open(README, encoding="utf-8") as handle:
        readme = handle.read()
    sections = re.split(r"^## ", readme, flags=re.MULTILINE)
    with_python = {
        section.split("\n")[0] for section in sections if "```python" in section
    }
    for title in (
        "Stage 1: architecture search from Python",
        "Stage 2: weight training",
        "Control tasks (reinforcement learning)",
        "Zero-cost proxies and trainability-aware search",
        "Export to PyTorch and ONNX",
    ):
        assert title in with_python, title
    assert "\n## Documentation\n" in readme
    for reference in ("docs/configs.md", "docs/api.md", "python -m wannflax.docs"):
        assert reference in readme, reference


def test_the_readme_python_snippets_run_in_order(tmp_path, monkeypatch):
    # The snippets read as one session: later ones use the genome, problem
    # and trainer of earlier ones. Files they write land in tmp_path.
    monkeypatch.chdir(tmp_path)
    blocks = _readme_python_blocks()
    namespace = {"__name__": "readme"}
    for index, block in enumerate(blocks):
        first_line = block.strip().split("\n")[0]
        try:
            exec(compile(block, f"README.md python block {index}", "exec"), namespace)
        except Exception as error:
            pytest.fail(
                f"README python block {index} ({first_line!r}) raised {error!r}"
            )

    assert len(namespace["search"].history) == 100  # search.run(generations=100)
    assert len(namespace["es_trainer"].history) == 10  # es_trainer.fit(10)
    assert sorted(os.listdir(tmp_path)) == [
        "net.onnx",
        "net.pt2",
        "net.state_dict.pt",
        "network.png",
        "report.png",
        "search.png",
        "training.png",
    ]
