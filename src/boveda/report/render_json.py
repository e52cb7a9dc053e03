"""The statement as JSON: the statement's own layout (``format`` 1), amounts in satoshis."""

from __future__ import annotations

import json

from boveda.report.statement import Statement


def render_json(statement: Statement) -> str:
    return json.dumps(statement.to_json(), indent=2, ensure_ascii=False) + "\n"
