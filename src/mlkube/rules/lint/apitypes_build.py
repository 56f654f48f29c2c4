"""``python -m mlkube.rules.lint.apitypes_build > src/mlkube/rules/lint/apitypes.json``:
regenerates lint's OpenAPI and CRD type tables (development only; see `apitypes`)."""

import sys

from mlkube.rules.lint.apitypes import dumps, generate

if __name__ == "__main__":
    sys.stdout.write(dumps(generate()))
