"""Review app indexes: keyset paging of the active-learning queue, reviewed-response lookups
and theme filters stay index-only at 100,000 responses.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_uncertainty_rid", "predictions",
                    ["uncertainty", "response_id"])
    op.create_index("ix_codings_coder_response", "codings", ["coder", "response_id"])
    op.create_index("ix_codings_theme_coder_conf", "codings",
                    ["theme_id", "coder", "confidence", "response_id"])


def downgrade() -> None:
    op.drop_index("ix_codings_theme_coder_conf", table_name="codings")
    op.drop_index("ix_codings_coder_response", table_name="codings")
    op.drop_index("ix_predictions_uncertainty_rid", table_name="predictions")
