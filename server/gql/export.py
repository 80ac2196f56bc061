"""Export the GraphQL contract: ``python -m server.gql.export > graphql/schema.graphql``."""

from __future__ import annotations

import sys

from server.gql.schema import contract_schema


def sdl() -> str:
    return contract_schema().as_str() + "\n"


if __name__ == "__main__":
    sys.stdout.write(sdl())
