"""An existing deployment: what every kind of client sees (``runbook adopt``), and its migration.

``assessment``: :func:`assess` over :class:`~runbook.client.Endpoint` nodes -> :class:`Assessment`
(client views and findings, each with its cause id and fix), read-only. ``migrate``: :func:`migrate`
moves the deployment to the strict profile step by step, verified and rolled back on failure
(``adopt --migrate``) -> :class:`Migration`.
"""

from runbook.adopt.assessment import Assessment, assess
from runbook.adopt.migrate import Migration, migrate
