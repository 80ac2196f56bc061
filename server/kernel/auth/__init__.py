"""Identity: ES256 keys and JWKS, access tokens, the principal on each request, role checks."""
