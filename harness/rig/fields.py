"""Field helpers every rig section shares: ${VAR} substitution, secrets, one-line rules.

Split from schema.py so section modules (relay_schema.py) can build on them without an
import cycle. The rules themselves are documented in schema.py's docstring.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError, core_schema

# -- environment substitution and secrets ----------------------------------------------

_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHOLE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env(info: ValidationInfo) -> Mapping[str, str]:
    ctx = info.context
    if isinstance(ctx, Mapping) and ctx.get("env") is not None:
        return ctx["env"]
    return os.environ


def _lookup(name: str, env: Mapping[str, str]) -> str:
    if name not in env:
        raise PydanticCustomError("rig_env", "environment variable {name} is not set", {"name": name})
    return env[name]


def substitute(value: Any, info: ValidationInfo) -> Any:
    """Replace each ``${VAR}`` in a string with the environment's value; ``$${`` stays ``${``."""
    if not isinstance(value, str) or "$" not in value:
        return value
    env = _env(info)

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name = m.group(1)
        if not _VAR_NAME.fullmatch(name):
            raise PydanticCustomError(
                "rig_env", "bad variable reference ${{name}} (expected ${NAME})", {"name": name}
            )
        return _lookup(name, env)

    if re.search(r"\$\{[^}]*$", value.replace("$${", "")):
        raise PydanticCustomError("rig_env", "unclosed ${ in the value (write $${ for a literal ${)")
    return _VAR.sub(one, value)


class _SecretMarker:
    """Annotation metadata: the field is a secret, written only as ``${VAR}``."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_before_validator_function(_secret_from_env, handler(source))

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()


def _secret_from_env(value: Any, info: ValidationInfo) -> Any:
    if value is None or not isinstance(value, str):
        return value  # None is "no secret"; other types fail the str check without echoing the value
    m = _WHOLE_VAR.fullmatch(value)
    if m is None:
        raise PydanticCustomError(
            "rig_secret",
            "secrets are not written in the rig file; name an environment variable as ${VAR}",
        )
    return _lookup(m.group(1), _env(info))


def _not_bool(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise pass as the number 1.
    if isinstance(value, bool):
        raise PydanticCustomError("rig_type", "a number, not true/false")
    return value


Secret = Annotated[str | None, SECRET]
EnvStr = Annotated[str, BeforeValidator(substitute)]
EnvPath = Annotated[Path, BeforeValidator(substitute)]


def is_secret_field(field: Any) -> bool:
    return any(m is SECRET for m in getattr(field, "metadata", ()))


def _fail(path: str, message: str, **ctx: Any) -> PydanticCustomError:
    """An error about one key of the section (``path``), not the whole section.

    ``because`` (ctx) names a sibling key that caused it, so an error caused by an override
    of that key (``dut.kind`` from ``--port``) names the option rather than the file.
    """
    return PydanticCustomError("rig_rule", message, {"path": path, **ctx})


def _field(default: Any, description: str, expected: str | None = None, **kw: Any) -> Any:
    extra = {"expected": expected} if expected else None
    return Field(default, description=description, json_schema_extra=extra, **kw)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    def __repr_args__(self):  # secrets never reach a log through repr()
        for name, value in super().__repr_args__():
            field = type(self).model_fields.get(name) if name else None
            yield name, ("***" if field is not None and is_secret_field(field) and value else value)
