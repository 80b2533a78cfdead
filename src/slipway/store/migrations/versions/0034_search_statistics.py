"""params and run_tags: extended statistics on (key, value) for the search planner (PostgreSQL)

A filter ``params.model = 'rf'`` is ``key = 'model' AND value = 'rf' AND length(value) <= 200``
(the last term lets the partial index ``ix_params_short_value`` serve it). Without these
statistics PostgreSQL multiplies the three selectivities as if independent, and the length term
has no statistics at all (a default third): at 1M runs it expected about 3,000 rows where
100,000 match, and so joined every matching param instead of probing the few runs a top-N
search reads. The ``mcv`` lists hold the frequent (key, value) pairs themselves, ``dependencies``
the key/value correlation for the rest, and the ``length(value)`` expression its own statistics
(PostgreSQL 14 or later). ANALYZE (and autovacuum) fill them; SQLite has no equivalent.

Revision ID: 0034
Revises: 0031
"""

from alembic import op

revision = "0034"
down_revision = "0031"
branch_labels = None
depends_on = None

# (statistics name, table, columns and expressions on PostgreSQL 14+, columns on older servers)
STATISTICS = (
    ("st_params_key_value", "params", '"key", value, (length(value))', '"key", value'),
    ("st_run_tags_key_value", "run_tags", '"key", value', '"key", value'),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    expressions = (bind.dialect.server_version_info or (0,)) >= (14,)
    for name, table, with_expressions, columns in STATISTICS:
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} (mcv, dependencies) "
            f"ON {with_expressions if expressions else columns} FROM {table}"
        )
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _table, _expressions, _columns in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
