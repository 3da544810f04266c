"""Validate one entry of a Mage file against its contract model (contract.py), reporting every
problem as a diagnostic at its line: wrong types and nulls Mage cannot take, unknown keys."""

from __future__ import annotations

from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import ValidationError

from .contract import Entry
from .errors import Diagnostic, did_you_mean
from .yamlfile import KeyPath, YamlDocument

M = TypeVar("M", bound=Entry)

KINDS = {  # pydantic error types → what the value must be
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "datetime_type": "a date-time",
    "datetime_parsing": "a date-time",
}
FREE_FORM = ("configuration",)  # mappings whose other keys belong to block kinds: not reported


def checked(
    model: type[M],
    data: Any,
    doc: YamlDocument,
    key: KeyPath,
    into: list[Diagnostic],
    what: str = "",
    partial: bool = False,
) -> M | None:
    """`data` (at `key` of `doc`) as `model`, or None when it has errors; every problem goes `into`
    the list. Wrong values in the model's WARN_ONLY fields (and a WARN_IF_NOT_A_MAPPING field that is
    not a mapping) are warnings, and those fields take their defaults. With `partial`, an entry with
    errors is still built, every failing top-level key at its default (for further checks; the errors
    stand). `what` names the entry in messages."""
    _unknown_keys(model, data, doc, key, into, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc, data)
        hard = False
        for path, error in problems:
            warning = bool(path) and (
                path[0] in model.WARN_ONLY or path == (path[0],) and path[0] in model.WARN_IF_NOT_A_MAPPING
            )  # that whole field then takes its default
            hard = hard or not warning
            into.append(_diagnostic(model, doc, key, path, error, what, "warning" if warning else "error"))
        if hard and not partial or not isinstance(data, dict):
            return None
        failing = {path[0] for path, _ in problems if path}
        try:
            return model.model_validate({name: value for name, value in data.items() if name not in failing})
        except ValidationError:  # a required key failed
            return None


def _problems(exc: ValidationError, data: Any) -> list[tuple[KeyPath, dict]]:
    """Each error with the key path it has in the data (union branch names dropped), once per path."""
    found: dict[KeyPath, dict] = {}
    for error in exc.errors():
        path, value = [], data
        for part in error["loc"]:
            if (
                isinstance(value, dict)
                and part in value
                or isinstance(value, list)
                and isinstance(part, int)
                and 0 <= part < len(value)
            ):
                path.append(part)
                value = value[part]
            elif error["type"] in ("missing", "extra_forbidden") and part == error["loc"][-1]:
                path.append(part)  # a key that is not (or should not be) there
        found.setdefault(tuple(path), error)
    return list(found.items())


def _diagnostic(
    model: type[Entry], doc: YamlDocument, key: KeyPath, path: KeyPath, error: dict, what: str, severity: str
) -> Diagnostic:
    name = ".".join(str(part) for part in path) or what or "this entry"
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        message, hint = f"'{name}' is missing", f"add '{path[-1]}:' (it may be null)"
    elif kind == "extra_forbidden":
        known = _model_at(model, path).model_fields
        message, hint = f"unknown key '{name}' (Mage refuses it)", did_you_mean(str(path[-1]), known) or "remove it"
    elif value is None:
        message, hint = f"'{name}' may not be null: Mage fails on it", "give it a value, or remove the key"
    elif kind == "literal_error":
        message = f"'{name}' is {value!r}; expected {error['ctx']['expected']}"
        hint = did_you_mean(str(value), _literals(error)) or "use one of those values"
    elif kind in KINDS:
        message = f"'{name}' must be {KINDS[kind]}, not {_shown(value)}"
        hint = "Mage keeps it as written; mage-prefect ignores it" if severity == "warning" else "write it as Mage does"
    elif kind == "value_error":
        message, hint = f"'{name}' {error['ctx']['error']}", ""
    else:  # a bound: "Input should be greater than or equal to 1"
        message, hint = f"'{name}' {error['msg'].removeprefix('Input ').lower()}, not {_shown(value)}", ""
    if what and path:
        message = f"{what}: {message}"
    return doc.diagnostic(key + path, message, hint or "see the README's input contract", severity=severity)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}… ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


def _literals(error: dict) -> list[str]:
    return [part.strip(" '") for part in str(error.get("ctx", {}).get("expected", "")).replace(" or ", ",").split(",")]


def _unknown_keys(
    model: type[Entry], data: Any, doc: YamlDocument, key: KeyPath, into: list[Diagnostic], what: str
) -> None:
    """Keys of `data` that `model` does not know, as warnings (Mage ignores them), nested entries
    included. Models that refuse unknown keys report them as errors already."""
    if not isinstance(data, dict):
        return
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            if model.model_config.get("extra") != "forbid":
                hint = did_you_mean(str(name), model.model_fields) or "remove it"
                message = f"{what + ': ' if what else ''}unknown key '{name}' ({model.IGNORED_BY} ignores it)"
                into.append(doc.diagnostic(key + (name,), message, hint, severity="warning"))
        elif name not in FREE_FORM:
            for shape, inner in _entry_types(field.annotation):
                items = (
                    {"": value}.items()
                    if shape == "model"
                    else value.items()
                    if isinstance(value, dict)
                    else enumerate(value)
                    if shape == "list" and isinstance(value, list)
                    else ()
                )
                for item_key, item in items:
                    _unknown_keys(
                        inner, item, doc, key + (name,) + ((item_key,) if shape != "model" else ()), into, what
                    )


def _entry_types(annotation: Any) -> list[tuple[str, type[Entry]]]:
    """The Entry models an annotation holds: ("model", M) for M, ("dict", M) for dict[str, M],
    ("list", M) for list[M], through unions and Optional."""
    if isinstance(annotation, type) and issubclass(annotation, Entry):
        return [("model", annotation)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (dict, list) and args and isinstance(args[-1], type) and issubclass(args[-1], Entry):
        return [(origin.__name__, args[-1])]
    return [found for arg in args for found in _entry_types(arg)] if origin in (Union, UnionType) else []


def _model_at(model: type[Entry], path: KeyPath) -> type[Entry]:
    """The model that holds the last key of `path` (for 'did you mean' hints)."""
    for part in path[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        inner = _entry_types(field.annotation) if field is not None else []
        if not inner:
            break
        model = inner[0][1]
    return model
