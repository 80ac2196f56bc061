"""The API reference pages at ``/docs``: Swagger UI over the served OpenAPI documents."""
