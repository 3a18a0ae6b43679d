"""Reading a study spec: TOML text or a file in, a validated `study.spec.Spec` out.

`study.spec` holds the spec's types, `study.validate` the field checks; this module joins them,
so neither imports the other's caller (no import cycle).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from study.spec import Spec, SpecError
from study.validate import Validator


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; raises SpecError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(file, "SPEC", "file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise SpecError(file, "SPEC", f"cannot read: {e}") from None
    return parse_spec(text, file)


def parse_spec(text: str, file: str = "<spec>") -> Spec:
    """Validate TOML text; raises SpecError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(file, "TOML", str(e)) from None
    try:
        return Validator(file).spec(raw, text)
    except SpecError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as e:  # a shape no check foresaw
        raise SpecError(file, "spec", f"malformed value: {type(e).__name__}: {e}") from None
