"""metric_buckets: each metric series summarised per step bucket at several widths, for charts;
users.password_hash: a salted scrypt hash for signing in to the web UI with a password

Revision ID: 0023
Revises: 0027

The table is filled from the points already stored, one width from the one below it, so a store
upgraded with a long history draws its charts from the summary at once.
"""
import itertools

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0027'
branch_labels = None
depends_on = None

# Keep in step with slipway.tracking.metric_buckets.WIDTHS (a migration never imports the package).
WIDTHS = (16, 256, 4096, 65536)
COLUMNS = '(run_id, "key", width, bucket, points, first_step, last_step, min_value, max_value, first_ts, last_ts)'


def _floor_div(column: str, divisor: int) -> str:
    # Integer division truncates towards zero in SQLite and PostgreSQL; a bucket is the floor.
    return f"CASE WHEN {column} >= 0 THEN {column} / {divisor} ELSE ({column} + 1) / {divisor} - 1 END"


def upgrade() -> None:
    op.create_table(
        'metric_buckets',
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('width', sa.BigInteger(), nullable=False),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.Column('first_step', sa.BigInteger(), nullable=False),
        sa.Column('last_step', sa.BigInteger(), nullable=False),
        sa.Column('min_value', sa.Float(), nullable=False),
        sa.Column('max_value', sa.Float(), nullable=False),
        sa.Column('first_ts', sa.BigInteger(), nullable=False),
        sa.Column('last_ts', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metric_buckets_run_id_runs')),
        sa.PrimaryKeyConstraint('run_id', 'key', 'width', 'bucket', name=op.f('pk_metric_buckets')),
        sqlite_with_rowid=False,
    )
    for statement in backfill_statements():
        op.execute(statement)
    op.add_column('users', sa.Column('password_hash', sa.String(length=200), nullable=True))


def backfill_statements() -> list[str]:
    """The SQL that summarises the points already stored: the finest width from the points, each
    coarser one from the width below it (also run by the tests against a store's points)."""
    statements = [
        f"INSERT INTO metric_buckets {COLUMNS} "
        f"SELECT run_id, \"key\", {WIDTHS[0]}, b, count(*), min(step), max(step), min(value), max(value), "
        f"min(ts), max(ts) FROM (SELECT run_id, \"key\", {_floor_div('step', WIDTHS[0])} AS b, step, value, ts "
        "FROM metrics WHERE NOT is_nan) AS points GROUP BY run_id, \"key\", b"
    ]
    for finer, width in itertools.pairwise(WIDTHS):
        statements.append(
            f"INSERT INTO metric_buckets {COLUMNS} "
            f"SELECT run_id, \"key\", {width}, b, sum(points), min(first_step), max(last_step), min(min_value), "
            f"max(max_value), min(first_ts), max(last_ts) FROM (SELECT run_id, \"key\", "
            f"{_floor_div('bucket', width // finer)} AS b, points, first_step, last_step, min_value, max_value, "
            f"first_ts, last_ts FROM metric_buckets WHERE width = {finer}) AS finer GROUP BY run_id, \"key\", b"
        )
    return statements


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_hash')
    op.drop_table('metric_buckets')
