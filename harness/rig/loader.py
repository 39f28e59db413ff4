"""Load a rig file: YAML, command-line overrides, environment, validation, one-line errors.

A user's mistake in the rig file or on the command line ends as a RigError whose text is
one line naming where the mistake is (the file and key path, or the command-line option)
and what was expected. Never a traceback, never pydantic's wording or URLs, and never a
secret's value (the pydantic error is dropped, ``from None``, because it holds the input).

Overrides and the DUT kind: ``--port URL`` arrives as ``dut.kind=serial, dut.port=URL``.
When an override changes ``dut.kind`` from what the file says, the file's ``dut`` section
described a different DUT (say the default rig's emulator with time_scale 0.1), so it is
set aside and only the overridden ``dut`` keys apply; the rest take their defaults. A
time scale other than 1.0 is accepted for a serial DUT only when the command line gave it
(``--time-scale``): an external emulator behind ``--port`` may run scaled, but a rig file
that names a serial device means hardware, which runs in real time.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from harness.rig.options import OPTION_NAMES
from harness.rig.schema import SECTIONS, RigConfig, is_secret_field

DEFAULT_RIG = "rig.yaml"



class RigError(Exception):
    """A mistake in the rig file or its overrides; str() is one line fit for the user."""


def load_rig(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    option_names: Mapping[str, str] | None = None,
) -> RigConfig:
    """Read, override, substitute and validate a rig file; raise RigError on any mistake.

    ``overrides`` maps dotted keys ("dut.time_scale") to values, applied over the file
    before validation; strings are converted as the field needs ("0.5" -> 0.5).
    ``env`` (default os.environ) supplies ``${VAR}`` values. ``option_names`` maps a
    dotted key to the option named in errors (default OPTION_NAMES).
    """
    shown = os.fspath(path)
    overrides = dict(overrides or {})
    names = OPTION_NAMES if option_names is None else option_names
    raw = _read_sections(Path(path), shown)
    _apply_overrides(raw, overrides)
    context = {
        "env": os.environ if env is None else env,
        "time_scale_explicit": "dut.time_scale" in overrides,
    }
    try:
        rig = RigConfig.model_validate(raw, context=context)
    except ValidationError as exc:
        raise RigError(_one_line(exc, shown, overrides, names)) from None
    rig.source = Path(path).resolve()
    rig._path_as_given = shown  # RigConfig.origin(): errors after loading name the same source
    rig._origins = {key: names.get(key, f"override {key}") for key in overrides}
    return rig


# -- reading --------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys: the second `port:` would silently win."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _read_sections(path: Path, shown: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RigError(f"{shown}: file not found") from None
    except IsADirectoryError:
        raise RigError(f"{shown}: is a directory, not a rig file") from None
    except UnicodeDecodeError:
        raise RigError(f"{shown}: not UTF-8 text") from None
    except OSError as exc:
        raise RigError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "cannot parse"
        if str(problem).startswith("duplicate key"):
            raise RigError(f"{shown}: {where}{problem}") from None
        raise RigError(f"{shown}: {where}not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise RigError(f"{shown}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RigError(f"{shown}: expected a mapping with sections {', '.join(SECTIONS)}; got {_show(data)}")
    if "source" in data:  # a field of RigConfig, but the loader's to set
        raise RigError(f"{shown}: source: {_unknown_key('source', list(SECTIONS))}")
    # A section whose keys are all commented out reads as null: it means "all defaults".
    return {k: (([] if k == "duts" else {}) if k in SECTIONS and v is None else v) for k, v in data.items()}


# -- overrides ------------------------------------------------------------------------


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key in overrides:
        if not isinstance(key, str) or not all(key.split(".")):
            raise RigError(f"override {key!r}: not a dotted key such as dut.time_scale")
    if "dut.kind" in overrides:
        dut = raw.get("dut")
        file_kind = dut.get("kind", "emulator") if isinstance(dut, dict) else None
        if file_kind != overrides["dut.kind"]:
            raw["dut"] = {}  # the file described another kind of DUT (see the module docstring)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                break  # the file's own value is wrong there; validation reports it against the file
        else:
            node[leaf] = value


# -- errors ---------------------------------------------------------------------------

_GENERIC = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "rig_type": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "path_type": "a path",
    "dict_type": "a mapping of keys", "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "string_too_short": "a non-empty string",
}


def _one_line(
    exc: ValidationError, shown: str, overrides: Mapping[str, Any], names: Mapping[str, str]
) -> str:
    errors = exc.errors(include_url=False)
    line = _locate(errors[0], shown, overrides, names)
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line


def _locate(err: Any, shown: str, overrides: Mapping[str, Any], names: Mapping[str, str]) -> str:
    raw_loc = list(err["loc"])
    if "[key]" in raw_loc:  # a bad dict key: the path is the dict, the key goes in the message
        raw_loc = raw_loc[: raw_loc.index("[key]") - 1]
    loc = [str(p) for p in raw_loc]
    if err["type"] == "rig_rule":
        loc.append(err["ctx"]["path"])
    path = ".".join(loc)
    message = _message(err, loc)
    origin = next((k for k in sorted(overrides, key=len, reverse=True)
                   if path == k or path.startswith(k + ".")), None)
    because = (err.get("ctx") or {}).get("because") if err["type"] == "rig_rule" else None
    if origin is None and because is not None:
        cause = ".".join([*loc[:-1], because])
        origin = cause if cause in overrides else None
        if origin is not None:
            return f"{names.get(origin, f'override {origin}')}: {path}: {message}"
    if origin is not None:
        where = names.get(origin, f"override {origin}")
        return f"{where}: {message}" if path == origin else f"{where}: {path}: {message}"
    return f"{shown}: {path}: {message}" if path else f"{shown}: {message}"


def _message(err: Any, loc: list[str]) -> str:
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    if kind.startswith("rig_") and kind != "rig_type":
        return err["msg"]
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed = [n for n in owner.model_fields if not (owner is RigConfig and n == "source")]
        return _unknown_key(loc[-1], allowed)
    if kind == "missing":
        return "required"
    field = _field_at(loc)
    secret = field is not None and is_secret_field(field)
    got = "" if secret else f"; got {_show(err['input'])}"
    if kind == "literal_error":
        choices = str(ctx.get("expected", "")).replace(" or ", ", ")
        if "[key]" in err["loc"]:
            return f"key {_show(err['input'])}: expected one of {choices}"
        return f"expected one of {choices}{got}"
    extra = field.json_schema_extra if field is not None else None
    expected = extra.get("expected") if isinstance(extra, dict) else None
    if expected is None:
        expected = _GENERIC.get(kind) or _bound(kind, ctx) or err["msg"].removeprefix("Input should be ")
    return f"expected {expected}{got}"


def _bound(kind: str, ctx: Mapping[str, Any]) -> str | None:
    ops = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    for name, op in ops.items():
        if kind == name:
            return f"a value {op} {next(iter(ctx.values()), '?')}"
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    return None


def _unknown_key(key: str, allowed: list[str]) -> str:
    text = f"unknown key (expected one of: {', '.join(allowed)})"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return f"{text}; did you mean {close[0]!r}?" if close else text


def _model_at(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = RigConfig
    for part in loc:
        field = model.model_fields.get(part)
        sub = _model_type(field.annotation) if field is not None else None
        if sub is None:
            break
        model = sub
    return model


def _field_at(loc: list[str]) -> Any:
    """The FieldInfo the error is about: the deepest field along loc (a dict's values share it)."""
    model: type[BaseModel] | None = RigConfig
    found = None
    for part in loc:
        if model is None or part not in model.model_fields:
            break
        found = model.model_fields[part]
        model = _model_type(found.annotation)
    return found


def _model_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_type(arg)
            if found is not None:
                return found
    return None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
