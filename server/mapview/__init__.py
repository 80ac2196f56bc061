"""The map view at ``/``: the command centre's page (MapLibre on the vector tiles, GraphQL)."""
