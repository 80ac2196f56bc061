"""GraphQL (strawberry) over the one map: types, queries, mutations, subscriptions.

The contract for front-end teams is exported to ``graphql/schema.graphql``; the documents they
send live in ``graphql/operations/``. Business logic stays in ``geo``.
"""
