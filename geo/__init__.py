"""The one map: models, migrations, spatial queries (read), domain services (the only writers)."""
