"""The API reference, docs/api.md, from the docstrings of the package.

Every module of ``wannflax`` without a ``_`` part in its name is imported;
its public classes and functions (and their public methods and properties)
are listed under the module that defines them, in source order, each with
its signature as written and its docstring as Markdown. Defaults are shown
without object addresses and with paths inside the checkout as ``<repo>/...``,
so the file is the same in every process and every clone.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from flax import linen as nn

from wannflax.docs.markdown import docstring_markdown

# The repository root: this file is <root>/wannflax/docs/api.py.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = "wannflax"
REGENERATE = "python -m wannflax.docs"
API_FILE = "api.md"

# Sequences longer than this are shown as their first items, an ellipsis and
# the last item, so a long default (a 49-value grid) stays one readable line.
MAX_SHOWN_ITEMS = 8

# An object's address in a default's repr differs from process to process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


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


def assigned_names(module: types.ModuleType) -> set[str]:
    """Names a module's top level assigns (imports excluded).

    Args:
      module: an imported module whose source Python can read.

    Returns:
      The names bound by plain or annotated assignments at its top level.
    """
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


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


def _reexports(module: types.ModuleType) -> str:
    """The names in a module's ``__all__`` that other modules define, with those."""
    own = assigned_names(module)
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
        if getattr(module, name, None) is value and name in assigned_names(module):
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
