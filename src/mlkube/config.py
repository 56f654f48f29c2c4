"""The project config file, ``.mlkube.yaml``: which rules run, at what severity.

```yaml
lint:
  disable: [MK501, image-tag-mutable]   # ids or names
  severity: {MK104: error}
  failOn: warning                        # error | warning | info
```
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlkube.errors import InputError, UsageError
from mlkube.fileio import reason
from mlkube.manifests.yamlstream import Document, read_stream
from mlkube.rules.engine import Selection
from mlkube.rules.lint import ALL_RULES
from mlkube.rules.model import Severity

DEFAULT_FILE = ".mlkube.yaml"


class LintConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disable: list[str] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)
    fail_on: Literal["error", "warning", "info"] | None = Field(default=None, alias="failOn")

    def selection(self) -> Selection:
        return Selection(frozenset(self.disable), dict(self.severity))


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lint: LintConfig = Field(default_factory=LintConfig)


def unknown_rules(selectors: Iterable[str]) -> list[str]:
    """The selectors that name no lint rule (by id or by name)."""
    return [s for s in selectors if not any(r.matches(s) for r in ALL_RULES)]


def load_config(path: str | None) -> Config:
    """The config at ``path``, else ``.mlkube.yaml`` in the working directory, else defaults.

    A working directory that cannot be searched is an error, not "no config": the
    config may disable rules or raise severities, so guessing would change the result.
    """
    if path is None:
        try:
            if not Path(DEFAULT_FILE).is_file():
                return Config()
        except OSError as exc:
            raise UsageError(
                f"cannot tell whether {DEFAULT_FILE} exists in the working directory "
                f"({reason(exc)}); run from a readable directory or pass --config FILE"
            ) from None
        path = DEFAULT_FILE
    try:
        with open(path, "rb") as stream:
            docs = list(read_stream(stream, path))
    except OSError as exc:
        raise InputError(path, 0, f"cannot read: {reason(exc)}") from None
    docs = [d for d in docs if d.obj is not None]
    if not docs:
        return Config()
    if len(docs) > 1:
        raise InputError(path, docs[1].line, "a second YAML document: the config is one document")
    doc = docs[0]
    try:
        config = Config.model_validate(doc.obj)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        where = ".".join(str(s) for s in loc)
        raise InputError(path, doc.line_of(loc), f"{where}: {error['msg']}") from None
    _check_rules(config.lint, doc, path)
    return config


def _check_rules(lint: LintConfig, doc: Document, path: str) -> None:
    for i, name in enumerate(lint.disable):
        if unknown_rules([name]):
            raise InputError(path, doc.line_of(("lint", "disable", i)), _no_rule(name))
    for name in lint.severity:
        if unknown_rules([name]):
            raise InputError(path, doc.line_of(("lint", "severity", name)), _no_rule(name))


def _no_rule(name: str) -> str:
    return f"no lint rule {name!r}; `mlkube rules` lists them"
