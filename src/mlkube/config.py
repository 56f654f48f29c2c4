"""The project config file, ``.mlkube.yaml``: which rules run, at what severity.

```yaml
lint:
  disable: [MK501, image-tag-mutable]   # ids or names
  severity: {MK104: error}
  failOn: warning                        # error | warning | info
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlkube.errors import InputError
from mlkube.manifests.yamlstream import read_paths
from mlkube.rules.engine import Selection
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


def load_config(path: str | None) -> Config:
    """The config at ``path``, else ``.mlkube.yaml`` in the working directory, else defaults."""
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            return Config()
        path = DEFAULT_FILE
    docs = list(read_paths([path]))
    if not docs:
        return Config()
    doc = docs[0]
    try:
        return Config.model_validate(doc.obj)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        where = ".".join(str(s) for s in loc)
        raise InputError(path, doc.line_of(loc), f"{where}: {error['msg']}") from None
