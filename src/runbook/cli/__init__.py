"""Command-line front end (``python -m runbook``): one module per command group, parser and ``main`` in
:mod:`runbook.cli.main`; exit codes 0 success, 1 a verification failed, 2 usage or input error."""

from runbook.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from runbook.cli.main import COMMAND_GROUPS, build_parser, main
