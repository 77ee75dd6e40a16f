"""A report as a CSV or JSON download: the same figures and rows as `peerpath report NAME
--json` / `--csv`."""

import json

from flask import Response, abort

from ..core import records_csv


def report_download(result, fmt: str) -> Response:
    if fmt == "json":
        body, mimetype = json.dumps(result.to_dict(), indent=2, ensure_ascii=False), "application/json"
    elif fmt == "csv":
        body, mimetype = "\ufeff" + records_csv(result.records()), "text/csv"  # BOM: Excel reads UTF-8
    else:
        abort(404)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.name}.{fmt}"'
    return response
