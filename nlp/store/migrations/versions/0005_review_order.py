"""The review order: each scored answer's place in the review queue (`priority`: the higher,
the sooner; ranked answers 1 + 1/rank, others their uncertainty), and the random checks
mixed into it with the model's suggestions when each was drawn (`review_checks`).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("priority", sa.Float, nullable=False, server_default="0"))
    op.execute("UPDATE predictions SET priority = uncertainty")
    op.create_index("ix_predictions_priority_rid", "predictions", ["priority", "response_id"])
    op.create_table(
        "review_checks",
        sa.Column("response_id", sa.String(200), sa.ForeignKey("responses.response_id"),
                  primary_key=True),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("themes", sa.JSON, nullable=False),
        sa.Column("drawn_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_checks")
    op.drop_index("ix_predictions_priority_rid", "predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("priority")
