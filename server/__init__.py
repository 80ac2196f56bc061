"""OneMap's ASGI application, settings, CLI and the surfaces built on the one map."""
