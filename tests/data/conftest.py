"""Test data, not tests: keep ``pytest --nbval`` from collecting the purpose-built notebooks here."""

collect_ignore_glob = ["*", "**/*"]
