"""SQLite shards and the directory: schema, migrations, transactions, the outbox, typed stores.

A shard is one SQLite file in one region holding the data of many issuers; the directory is
the control-plane database of the primary region. Both are `Database` instances with their
own migrations. Nothing outside this package sees `sqlite3`: storage errors are mapped to the
hierarchy in `shards.errors`.
"""
