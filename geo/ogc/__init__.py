"""OGC-facing pieces of the one map that are not queries: reading GeoJSON features sent in."""
