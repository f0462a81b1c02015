"""The notebook layer: everything a notebook cell calls beyond one plain library call, for every notebook.

A notebook builds its target with :func:`from_params` (the sandbox or an external Redis, so no cell
branches on it) and calls one step per cell: :mod:`.certificates` (01), :mod:`.server_config` (02), :mod:`.client_checks` (03), :mod:`.toolkit` (04), :mod:`.rotation` and
:mod:`.rotation_external` (05), :mod:`.performance` (06), :mod:`.fleet` (07), :mod:`.training` (08), :mod:`.adopt` (09), and one verdict and
summary record per notebook in :mod:`.summaries`. Nothing below this package knows about notebooks.
"""

from runbook.book import (
    adopt,
    certificates,
    client_checks,
    fleet,
    performance,
    rotation,
    rotation_external,
    server_config,
    summaries,
    toolkit,
    training,
)
from runbook.book.target import Target, from_params
