"""One walk of `GET /bundles` by dlt's REST API source, merged into Postgres.

Run by bench/dlt.sh (BENCHMARKS.md, "Against dlt"), side by side with
`worker sync --stream bundles`. Everything set here is what the API needs;
every other setting is dlt's default:

- auth: the API's `X-API-Key` header (dlt's `api_key` auth; the API takes
  no bearer token);
- pagination: dlt's page-number paginator, `page` from 1, `per_page=PER_PAGE`,
  the number of pages from `pagination.total_pages`, the items under `data`;
- `write_disposition="merge"` with primary key `id`, into the dataset
  `tokportal_dlt` of the database at DLT_PG_URL.

dlt's HTTP client (its defaults, unchanged): one request at a time, a retry
on 429, 5xx, a timeout or a broken connection, up to 5 attempts, waiting
`Retry-After` when the answer has one (seconds or an HTTP date) and
otherwise an exponential backoff (factor 1, at most 300 s); 60 s timeout.

Input (environment): TOKPORTAL_BASE_URL, TOKPORTAL_API_KEY (never printed),
DLT_PG_URL, DLT_PIPELINES_DIR (a scratch directory: the pipeline's local
state starts empty), PER_PAGE. Output: one JSON line on stdout with the
pipeline's steps (extract, normalize, load) in seconds and the rows dlt
says it loaded per table.
"""

import json
import os
from urllib.parse import urlsplit, urlunsplit

import dlt
from dlt.sources.rest_api import rest_api_source


def source(base_url: str, api_key: str, per_page: int):
    return rest_api_source(
        {
            "client": {
                "base_url": base_url,
                "auth": {
                    "type": "api_key",
                    "name": "X-API-Key",
                    "api_key": api_key,
                    "location": "header",
                },
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "page_param": "page",
                    "total_path": "pagination.total_pages",
                },
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
            },
            "resources": [
                {
                    "name": "bundles",
                    "endpoint": {
                        "path": "bundles",
                        "params": {"per_page": per_page},
                        "data_selector": "data",
                    },
                }
            ],
        }
    )


def with_password(url: str) -> str:
    """dlt's Postgres credentials require a password even where the server
    asks for none (`trust`, as the benchmark's scratch cluster): a URL
    without one gets a placeholder the server does not check. A URL with a
    password keeps it."""
    parts = urlsplit(url)
    if parts.password is not None or "@" not in parts.netloc:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user}:unchecked@{host}"))


def main() -> None:
    pipeline = dlt.pipeline(
        pipeline_name="tokportal_bundles",
        pipelines_dir=os.environ["DLT_PIPELINES_DIR"],
        destination=dlt.destinations.postgres(credentials=with_password(os.environ["DLT_PG_URL"])),
        dataset_name="tokportal_dlt",
    )
    pipeline.run(
        source(
            os.environ["TOKPORTAL_BASE_URL"],
            os.environ["TOKPORTAL_API_KEY"],
            int(os.environ.get("PER_PAGE", "100")),
        )
    )
    trace = pipeline.last_trace
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in trace.steps
        if step.finished_at is not None
    }
    normalized = trace.last_normalize_info
    rows = dict(normalized.row_counts) if normalized is not None else {}
    print(json.dumps({"dlt": dlt.__version__, "steps": steps, "rows": rows}))


if __name__ == "__main__":
    main()
