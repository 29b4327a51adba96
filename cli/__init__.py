"""The `kysy` command line: the top floor. It calls ingest, assistant and eval; nothing imports it."""
