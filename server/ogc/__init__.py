"""OGC API - Features and Tiles at ``/ogc``: pygeoapi's core behind OneMap's auth, a fast path
for GeoJSON items, Part 4 transactions through ``geo.services`` and vector tiles from PostGIS."""
