"""An existing deployment: what every kind of client sees (``runbook adopt``), read-only.

``assessment``: :func:`assess` over :class:`~runbook.client.Endpoint` nodes -> :class:`Assessment`
(client views and findings, each with its cause id and fix). The migration to the strict profile
(``adopt --migrate``) is the next slice: docs/adopt.md.
"""

from runbook.adopt.assessment import Assessment, ClientView, Finding, assess
