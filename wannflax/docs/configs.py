"""The configs reference, docs/configs.md, from the configs and their meanings.

Every ``get_config()`` in ``configs/`` is loaded and flattened to dotted leaf
fields (``search.pop_size``); each field is listed under its group of
``wannflax.config_reference`` with its type, its value in
``configs/default.py``, the other configs' values and its meaning, followed
by the settings fields no bundled config sets and the names every registry
holds. A config field without a meaning, or a meaning without a field, stops
the generation.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import ml_collections

from wannflax.config_reference import FIELDS, GROUPS
from wannflax.docs.api import (
    API_FILE,
    MAX_SHOWN_ITEMS,
    REGENERATE,
    REPO_ROOT,
    assigned_names,
    public_modules,
)
from wannflax.registry import Registry

CONFIG_DIR = os.path.join(REPO_ROOT, "configs")
CONFIGS_FILE = "configs.md"
DEFAULT_CONFIG = "default"


@contextlib.contextmanager
def _importable_repo_root() -> Iterator[None]:
    """The repository root on sys.path, as ``configs/*.py`` import ``configs``."""
    added = REPO_ROOT not in sys.path
    if added:
        sys.path.insert(0, REPO_ROOT)
    try:
        yield
    finally:
        if added:
            sys.path.remove(REPO_ROOT)


def load_configs(config_dir: str = CONFIG_DIR) -> dict[str, ml_collections.ConfigDict]:
    """Every ``get_config()`` in ``config_dir``, keyed by file stem, default first.

    Args:
      config_dir: a directory of config files, each defining ``get_config()``.

    Returns:
      ``{stem: config}``: ``configs/default.py`` first, the others sorted.
    """
    stems = sorted(
        name[:-3]
        for name in os.listdir(config_dir)
        if name.endswith(".py") and not name.startswith("_")
    )
    stems.sort(key=lambda stem: stem != DEFAULT_CONFIG)
    configs = {}
    with _importable_repo_root():
        for stem in stems:
            path = os.path.join(config_dir, stem + ".py")
            spec = importlib.util.spec_from_file_location(f"configs.{stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            configs[stem] = module.get_config()
    return configs


def flatten_config(config: ml_collections.ConfigDict | dict) -> dict[str, Any]:
    """The leaves of a (nested) config as ``{"search.pop_size": 256, ...}``."""
    tree = config.to_dict() if hasattr(config, "to_dict") else config
    leaves = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            for inner, leaf in flatten_config(value).items():
                leaves[f"{key}.{inner}"] = leaf
        else:
            leaves[key] = value
    return leaves


def field_values(
    configs: dict[str, ml_collections.ConfigDict],
) -> dict[str, dict[str, Any]]:
    """``{field: {config name: value}}`` over every leaf of every config."""
    values: dict[str, dict[str, Any]] = {}
    for name, config in configs.items():
        for field, value in flatten_config(config).items():
            values.setdefault(field, {})[name] = value
    return values


def undocumented_fields(
    configs: dict[str, ml_collections.ConfigDict],
) -> list[tuple[str, str]]:
    """``(field, config name)`` pairs of leaves the reference has no entry for."""
    return [
        (field, name)
        for name, config in configs.items()
        for field in flatten_config(config)
        if field not in FIELDS
    ]


def stale_fields(configs: dict[str, ml_collections.ConfigDict]) -> list[str]:
    """Reference entries that no config has, in reference order."""
    present = set(field_values(configs))
    return [field for field in FIELDS if field not in present]


def format_value(value: Any, max_items: int | None = None) -> str:
    """A config value as Python source, strings double-quoted.

    Args:
      value: a string, number, bool, None, or a list, tuple or dict of them.
      max_items: longer sequences show their first three items, an ellipsis
        and the last; None shows every item.

    Returns:
      The source text.
    """
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        items = [format_value(item, max_items) for item in value]
        if max_items is not None and len(items) > max_items:
            items = [*items[:3], "...", items[-1]]
        inside = ", ".join(items)
        return f"[{inside}]" if isinstance(value, list) else f"({inside})"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{k!r}: {format_value(v, max_items)}" for k, v in value.items()
            )
            + "}"
        )
    return repr(value)


def _type_name(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        inner = sorted({_type_name(item) for item in value})
        return f"list[{' | '.join(inner)}]" if inner else "list"
    return type(value).__name__


def field_type(field: str, values: dict[str, Any]) -> str:
    """The reference's declared type, else the types of the configs' values."""
    if FIELDS[field].type:
        return FIELDS[field].type
    return " | ".join(sorted({_type_name(value) for value in values.values()}))


def resolve_choices(path: str) -> str:
    """The valid names at ``"module:attribute"``, as Markdown, read now.

    A registry gives its registered names, a mapping one list per key, any
    other sequence its items.
    """
    module_name, attribute = path.split(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, Registry):
        return _code_list(target.names())
    if isinstance(target, dict):
        return "; ".join(
            f"`{key}`: {_code_list(names)}" for key, names in target.items()
        )
    return _code_list(target)


def _code_list(names: Sequence[Any]) -> str:
    return ", ".join(f"`{name}`" for name in names)


# Marks a field that configs/default.py lacks.
_MISSING = object()


def _other_values(values: dict[str, Any]) -> str:
    """The non-default configs grouped by the value they give the field."""
    default = values.get(DEFAULT_CONFIG, _MISSING)
    same, groups = [], {}
    for name, value in values.items():
        if name == DEFAULT_CONFIG:
            continue
        if value == default:
            same.append(name)
        else:
            groups.setdefault(format_value(value), []).append(name)
    if not groups:
        return "the same in every config that has it" if same else "none"
    parts = [f"`{value}` ({', '.join(names)})" for value, names in groups.items()]
    if same:
        parts.append(f"as the default: {', '.join(same)}")
    return "; ".join(parts)


def _config_summary(name: str, config_dir: str = CONFIG_DIR) -> str:
    """The first line of a config file's docstring."""
    with open(os.path.join(config_dir, name + ".py"), encoding="utf-8") as handle:
        docstring = ast.get_docstring(ast.parse(handle.read())) or ""
    return docstring.split("\n")[0]


def _config_table(configs: dict[str, ml_collections.ConfigDict]) -> list[str]:
    lines = ["| config | problem | what it runs |", "| --- | --- | --- |"]
    for name, config in configs.items():
        summary = _config_summary(name)
        what = config.get("environment") or config.get("dataset")
        lines.append(
            f"| `configs/{name}.py` | `{config.problem}` ({what}) | {summary} |"
        )
    return lines


def _unset_dataclass_fields(configs: dict[str, ml_collections.ConfigDict]) -> list[str]:
    """Fields the search and the trainers accept that no bundled config sets.

    Each settings class is compared with the configs of the problems it
    serves: a control config's ``train`` builds an ESTrainerConfig, a
    supervised one's a WeightTrainerConfig.
    """
    from wannflax.es_training import ESTrainerConfig
    from wannflax.experiment import is_rl
    from wannflax.search_config import SearchConfig
    from wannflax.training import WeightTrainerConfig

    control = [config for config in configs.values() if is_rl(config)]
    supervised = [config for config in configs.values() if not is_rl(config)]
    sections = (
        ("search", SearchConfig, "any problem", list(configs.values())),
        ("train", WeightTrainerConfig, "supervised", supervised),
        ("train", ESTrainerConfig, "control", control),
    )
    lines = []
    for section, cls, kind, served in sections:
        present = {field for config in served for field in flatten_config(config)}
        for field in dataclasses.fields(cls):
            name = f"{section}.{field.name}"
            if name in present:
                continue
            if field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            else:
                default = field.default
            lines.append(
                f"- `{name}` ({kind}): default "
                f"`{format_value(default, MAX_SHOWN_ITEMS)}`; see "
                f"`wannflax.{cls.__name__}` in [api.md]({API_FILE})."
            )
    return lines


def render_configs(configs: dict[str, ml_collections.ConfigDict]) -> str:
    """The text of docs/configs.md for ``configs``.

    Raises:
      ValueError: a config field without an entry in the reference, or an
        entry for a field no config has.
    """
    from wannflax.experiment import RESULT_NEUTRAL_FIELDS

    missing = undocumented_fields(configs)
    if missing:
        raise ValueError(
            "Config fields without an entry in wannflax/config_reference.py: "
            + ", ".join(f"{field} (configs/{name}.py)" for field, name in missing)
        )
    stale = stale_fields(configs)
    if stale:
        raise ValueError(
            "wannflax/config_reference.py documents fields no config has: "
            + ", ".join(stale)
        )
    values = field_values(configs)
    lines = [
        "# Config reference",
        "",
        f"Generated by `{REGENERATE}` from `wannflax/config_reference.py` and "
        "`configs/*.py`; edit those, not this file.",
        "",
        "A config file defines `get_config()`, returning an `ml_collections` "
        "`ConfigDict`; `python -m wannflax.main --config=<file> --workdir=<dir>` "
        "runs it (from the repository root, where `configs` imports). A field "
        "the file has can be overridden on the command line:",
        "",
        "```bash",
        "python -m wannflax.main --config=configs/xor.py --workdir=runs/xor \\",
        "    --config.search.pop_size=64 --config.train.optimizer=sgd",
        "```",
        "",
        "The config is locked: a field the file lacks cannot be added by a flag "
        "(write a config file that sets it), and list-valued fields "
        "(`search.weight_values`, `search.activation_options`, `search.proxies`, "
        "`search.proxy_weights`) cannot be set by flags at all; edit a config "
        "file, e.g. one whose `get_config()` starts from another config's. "
        "Unknown fields in `config.search` or `config.train` are refused before "
        "any work, with the list of valid ones, and so are unknown registry names.",
        "",
        "Each entry gives the field's type, its value in `configs/default.py` "
        "(- where that config lacks it), the other configs' values, and its "
        "meaning. Fields marked result-neutral may change when a run resumes; "
        "any other change is refused on resume.",
        "",
        "## Configs",
        "",
        *_config_table(configs),
    ]
    for group, (title, introduction) in GROUPS.items():
        lines += ["", f"## {title}", "", introduction]
        for field, doc in FIELDS.items():
            if doc.group != group:
                continue
            per_config = values[field]
            default = per_config.get(DEFAULT_CONFIG, _MISSING)
            shown_default = "-" if default is _MISSING else f"`{format_value(default)}`"
            lines += [
                "",
                f"### `{field}`",
                "",
                f"- Type: `{field_type(field, per_config)}`",
                f"- Default: {shown_default}",
                f"- Other configs: {_other_values(per_config)}",
            ]
            if field in RESULT_NEUTRAL_FIELDS:
                lines.append("- Result-neutral: a resumed run may change it.")
            lines += ["", doc.meaning]
            for path in doc.choices:
                where = path.replace(":", ".")
                lines += ["", f"Choices (`{where}`): {resolve_choices(path)}."]
    lines += [
        "",
        "## Fields no bundled config sets",
        "",
        "`config.search` and `config.train` also accept the other fields of the "
        "settings they build; no file in `configs/` sets these, so they take the "
        "defaults below (`search.seed` and `train.seed` default to `seed`) and "
        "can only be added in a config file.",
        "",
        *_unset_dataclass_fields(configs),
        "",
        "## Registries",
        "",
        "Components are chosen by name; an unknown name fails before any work, "
        "listing the registered ones. The registries as of this generation:",
        "",
        *[
            f"- `{where}` ({registry.kind}): {_code_list(registry.names())}"
            for where, registry in find_registries()
        ],
    ]
    return "\n".join(lines) + "\n"


def find_registries() -> list[tuple[str, Registry]]:
    """``(module.NAME, registry)`` for every Registry the package defines.

    Each is named by the module that assigns it, not by those that import it.
    """
    found = []
    for module in public_modules():
        assigned = assigned_names(module)
        for name, value in vars(module).items():
            if isinstance(value, Registry) and name in assigned:
                found.append((f"{module.__name__}.{name}", value))
    return sorted(found, key=lambda item: item[0])
