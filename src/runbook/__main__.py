"""``python -m runbook``: the same CLI as the ``redis-tls-runbook`` script."""

import sys

from runbook.cli import main

sys.exit(main())
