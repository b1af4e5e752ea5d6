"""Writes the configs and API references in docs/ from the code.

``python -m wannflax.docs`` regenerates ``docs/configs.md`` (every field of
every ``configs/*.py``, with its meaning from ``wannflax.config_reference``)
and ``docs/api.md`` (the docstrings of every public module, class and
function under ``wannflax/``). ``python -m wannflax.docs --check`` writes
nothing and exits non-zero, naming each file that differs from what would be
generated. Run it from a checkout with the ``[test]`` extras installed: the
reference lists names from registries that the optional packages fill.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any

import ml_collections
from flax import linen as nn

from wannflax.config_reference import FIELDS, GROUPS
from wannflax.registry import Registry

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(REPO_ROOT, "configs")
DOCS_DIR = os.path.join(REPO_ROOT, "docs")
CONFIGS_FILE = "configs.md"
API_FILE = "api.md"
DEFAULT_CONFIG = "default"
PACKAGE = "wannflax"
REGENERATE = "python -m wannflax.docs"

# Sequences longer than this are shown as their first items, an ellipsis and
# the last item, so a long default (a 49-value grid) stays one readable line.
MAX_SHOWN_ITEMS = 8

# Google-style docstring sections rendered as Markdown: entries ("name:
# text") become a bullet list, examples a code block, the rest stays text.
ENTRY_SECTIONS = frozenset(
    {"Args", "Arguments", "Attributes", "Raises", "Keyword Args", "Keyword Arguments"}
)
CODE_SECTIONS = frozenset({"Example", "Examples"})
SECTION_TITLES = ENTRY_SECTIONS | CODE_SECTIONS | {"Returns", "Yields", "Note", "Notes"}
_SECTION_LINE = re.compile(r"^(" + "|".join(sorted(SECTION_TITLES)) + r"):\s*$")
_ENTRY_LINE = re.compile(r"^([\w*][\w*., \[\]]*?)\s*:\s*(.*)$")
# An object's address in a default's repr differs from process to process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


# -- the configs ---------------------------------------------------------------


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
        assigned = _assigned_names(module)
        for name, value in vars(module).items():
            if isinstance(value, Registry) and name in assigned:
                found.append((f"{module.__name__}.{name}", value))
    return sorted(found, key=lambda item: item[0])


def _assigned_names(module: types.ModuleType) -> set[str]:
    """Names a module's top level assigns (imports excluded)."""
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


# -- the API ---------------------------------------------------------------------


@dataclasses.dataclass
class ApiEntry:
    """One documented object of the public API.

    Attributes:
      qualified_name: ``module.Class.method`` style name.
      kind: ``"class"``, ``"function"``, ``"method"`` or ``"property"``.
      signature: ``def name(...) -> ...`` or ``class Name(...)``, without
        ``self``; empty when Python cannot tell it.
      docstring: the object's own docstring, cleaned; empty when it has none.
      members: the public methods and properties of a class.
    """

    qualified_name: str
    kind: str
    signature: str
    docstring: str
    members: list[ApiEntry] = dataclasses.field(default_factory=list)


def public_modules() -> list[types.ModuleType]:
    """Every module of the package without a ``_`` part, imported, by name."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE] + [
        info.name
        for info in pkgutil.walk_packages(package.__path__, PACKAGE + ".")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [importlib.import_module(name) for name in sorted(names)]


class _Source(str):
    """Text shown as is inside a signature (no quotes added by repr)."""

    def __repr__(self) -> str:
        return str(self)


def _clean_default(value: Any) -> _Source:
    """A default as shown: long sequences shortened, no object addresses, and
    paths inside the checkout relative to it (``<repo>/docs``), so the file
    does not depend on where the repository lies."""
    if isinstance(value, (list, tuple)) and len(value) > MAX_SHOWN_ITEMS:
        items = [repr(item) for item in (*value[:3], value[-1])]
        inside = ", ".join([*items[:3], "...", items[-1]])
        return _Source(f"[{inside}]" if isinstance(value, list) else f"({inside})")
    if isinstance(value, str) and (
        value == REPO_ROOT or value.startswith(REPO_ROOT + os.sep)
    ):
        return _Source(repr("<repo>" + value[len(REPO_ROOT) :]))
    return _Source(_ADDRESS.sub("", repr(value)))


def _annotation(annotation: Any) -> Any:
    if isinstance(annotation, str):
        return _Source(annotation)
    if isinstance(annotation, typing.ForwardRef):
        return _Source(annotation.__forward_arg__)
    return annotation


# Constructor arguments Flax adds to every module; they say nothing about
# the module itself.
FLAX_MODULE_ARGUMENTS = ("parent", "name")


def _parameter_texts(parameters: Sequence[inspect.Parameter]) -> list[str]:
    """Each parameter as written, with the ``/`` and ``*`` markers Python needs."""
    texts = []
    for index, parameter in enumerate(parameters):
        previous = parameters[index - 1].kind if index else None
        if (
            previous == inspect.Parameter.POSITIONAL_ONLY
            and parameter.kind != inspect.Parameter.POSITIONAL_ONLY
        ):
            texts.append("/")
        if parameter.kind == inspect.Parameter.KEYWORD_ONLY and not any(
            earlier.kind
            in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY)
            for earlier in parameters[:index]
        ):
            texts.append("*")
        texts.append(str(parameter))
    if parameters and parameters[-1].kind == inspect.Parameter.POSITIONAL_ONLY:
        texts.append("/")
    return texts


def format_signature(
    func: Any, drop_first: bool = False, prefix: str = "", width: int = 88
) -> str:
    """``prefix(a: int, b: str = "x") -> bool`` with annotations as written.

    Args:
      func: a function, method or class.
      drop_first: leave out the first parameter (``self`` or ``cls``).
      prefix: what precedes the parentheses, e.g. ``"def name"``.
      width: longer signatures are split, one parameter per line.

    Returns:
      The signature, or "" when Python cannot tell it.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return ""
    parameters = list(signature.parameters.values())
    if drop_first and parameters:
        parameters = parameters[1:]
    if inspect.isclass(func) and issubclass(func, nn.Module):
        parameters = [p for p in parameters if p.name not in FLAX_MODULE_ARGUMENTS]
    parameters = [
        parameter.replace(
            annotation=_annotation(parameter.annotation),
            default=parameter.default
            if parameter.default is inspect.Parameter.empty
            else _clean_default(parameter.default),
        )
        for parameter in parameters
    ]
    returns = signature.return_annotation
    suffix = ""
    if not inspect.isclass(func) and returns is not inspect.Signature.empty:
        suffix = f" -> {inspect.formatannotation(_annotation(returns))}"
    texts = _parameter_texts(parameters)
    one_line = f"{prefix}({', '.join(texts)}){suffix}"
    if len(one_line) <= width or not texts:
        return one_line
    body = "".join(f"    {text},\n" for text in texts)
    return f"{prefix}(\n{body}){suffix}"


def own_docstring(obj: Any) -> str:
    """``obj``'s own docstring, cleaned; "" when it has none.

    A class's docstring is never inherited, and the one ``dataclasses``
    writes for an undocumented dataclass (its signature) does not count.
    """
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str) or not doc.strip():
        return ""
    if inspect.isclass(obj) and doc.startswith(obj.__name__ + "("):
        return ""
    return inspect.cleandoc(doc)


def _method_docstring(cls: type, name: str, func: Any) -> str:
    """A method's docstring, else the one of the method it overrides in the package."""
    doc = own_docstring(func)
    if doc:
        return doc
    for base in cls.__mro__[1:]:
        if not base.__module__.startswith(PACKAGE) or name not in vars(base):
            continue
        inherited = _unwrap_member(vars(base)[name])
        if inherited is not None and own_docstring(inherited):
            return own_docstring(inherited)
    return ""


def _unwrap_member(member: Any) -> Any:
    """The function behind a class attribute, or None for non-callables."""
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    if callable(member) and not inspect.isclass(member):
        return member
    return None


def _class_members(cls: type, qualified: str) -> list[ApiEntry]:
    members = []
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        func = _unwrap_member(member)
        if func is None:
            continue
        original = inspect.unwrap(func)
        if not getattr(original, "__qualname__", "").startswith(cls.__qualname__ + "."):
            continue  # made by a decorator (dataclass, flax), not written here
        kind = "property" if isinstance(member, property) else "method"
        signature = (
            ""
            if kind == "property"
            else format_signature(
                func,
                drop_first=not isinstance(member, staticmethod),
                prefix=f"def {name}",
            )
        )
        members.append(
            ApiEntry(
                f"{qualified}.{name}",
                kind,
                signature,
                _method_docstring(cls, name, func),
            )
        )
    return members


def _is_public_api(module: types.ModuleType, name: str, obj: Any) -> bool:
    if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
        return False
    return inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj))


def _source_line(obj: Any) -> int:
    try:
        return inspect.getsourcelines(inspect.unwrap(obj))[1]
    except (OSError, TypeError):
        return 0


def module_entries(module: types.ModuleType) -> list[ApiEntry]:
    """The public classes and functions a module defines, in source order."""
    objects = [
        (name, obj)
        for name, obj in vars(module).items()
        if _is_public_api(module, name, obj)
    ]
    objects.sort(key=lambda item: (_source_line(item[1]), item[0]))
    entries = []
    for name, obj in objects:
        qualified = f"{module.__name__}.{name}"
        if inspect.isclass(obj):
            entries.append(
                ApiEntry(
                    qualified,
                    "class",
                    format_signature(obj, prefix=f"class {name}"),
                    own_docstring(obj),
                    _class_members(obj, qualified),
                )
            )
        else:
            entries.append(
                ApiEntry(
                    qualified,
                    "function",
                    format_signature(obj, prefix=f"def {name}"),
                    own_docstring(obj),
                )
            )
    return entries


def api_entries() -> dict[str, list[ApiEntry]]:
    """``{module name: entries}`` for every public module."""
    return {module.__name__: module_entries(module) for module in public_modules()}


def missing_docstrings() -> list[str]:
    """Qualified names of public classes, functions and methods without a docstring."""
    offenders = []
    for entries in api_entries().values():
        for entry in entries:
            for item in (entry, *entry.members):
                if not item.docstring:
                    offenders.append(item.qualified_name)
    return offenders


def docstring_markdown(doc: str) -> str:
    """A Google-style docstring as Markdown.

    ``Args``-like sections become bullet lists of ``name``: text, examples
    become Python code blocks, and other text is kept as written.
    """
    lines = doc.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _SECTION_LINE.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        title = match.group(1)
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] == " "):
            end += 1
        body = textwrap.dedent("\n".join(lines[index + 1 : end])).strip("\n")
        body_lines = body.splitlines()
        out += ["", f"**{title}:**", ""]
        if title in ENTRY_SECTIONS:
            out += _entry_list(body_lines)
        elif title in CODE_SECTIONS:
            out += ["```python", *body_lines, "```"]
        else:
            out += body_lines
        out.append("")
        index = end
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _entry_list(lines: list[str]) -> list[str]:
    """``name: text`` entries (continuations indented) as a bullet list."""
    entries: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line[0] != " " or not entries:
            entries.append([line.strip()])
        else:
            entries[-1].append(line.strip())
    bullets = []
    for entry in entries:
        text = " ".join(entry)
        match = _ENTRY_LINE.match(text)
        if match:
            bullets.append(f"- `{match.group(1)}`: {match.group(2)}".rstrip())
        else:
            bullets.append(f"- {text}")
    return bullets


def _reexports(module: types.ModuleType) -> str:
    """The names in a module's ``__all__`` that other modules define, with those."""
    own = _assigned_names(module)
    shown = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        origin = _origin(name, value)
        if name not in own and origin != module.__name__:
            shown.append(f"`{name}` ({origin})")
    return ", ".join(shown)


def _origin(name: str, value: Any) -> str:
    """The module that defines ``value`` (a module, class, function or constant)."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if inspect.isclass(value) or inspect.isfunction(inspect.unwrap(value)):
        return value.__module__
    for module in public_modules():
        if getattr(module, name, None) is value and name in _assigned_names(module):
            return module.__name__
    return "?"


def _anchor(module_name: str) -> str:
    return module_name.replace(".", "")


def _render_entry(entry: ApiEntry, level: int) -> list[str]:
    short = entry.qualified_name.rsplit(
        ".", 2 if entry.kind in ("method", "property") else 1
    )
    name = ".".join(short[1:])
    heading = {"class": "class ", "property": "property "}.get(entry.kind, "")
    lines = ["", f"{'#' * level} {heading}`{name}`"]
    if entry.signature:
        lines += ["", "```python", entry.signature, "```"]
    lines += ["", docstring_markdown(entry.docstring) or "*Undocumented.*"]
    for member in entry.members:
        lines += _render_entry(member, level + 1)
    return lines


def render_api() -> str:
    """The text of docs/api.md."""
    modules = public_modules()
    entries = api_entries()
    lines = [
        "# API reference",
        "",
        f"Generated by `{REGENERATE}` from the docstrings of every public module, "
        "class and function under `wannflax/` (names starting with `_` are "
        "left out); edit the docstrings, not this file. Objects are listed "
        "under the module that defines them, in source order; a package's "
        "re-exports are named at its top.",
        "",
        "## Modules",
        "",
        *[
            f"- [`{module.__name__}`](#{_anchor(module.__name__)}): "
            + (inspect.cleandoc(module.__doc__ or "").split("\n")[0] or "-")
            for module in modules
        ],
    ]
    for module in modules:
        lines += ["", f"## {module.__name__}", ""]
        lines.append(docstring_markdown(inspect.cleandoc(module.__doc__ or "")))
        reexports = _reexports(module)
        if reexports:
            lines += ["", f"Re-exports: {reexports}."]
        for entry in entries[module.__name__]:
            lines += _render_entry(entry, 3)
    return "\n".join(lines) + "\n"


# -- writing and checking ------------------------------------------------------------


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


if __name__ == "__main__":
    sys.exit(main())
