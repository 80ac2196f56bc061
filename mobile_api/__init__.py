"""The citizen app's REST API (``/api/v1``) and the Open311 façade."""
