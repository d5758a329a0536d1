"""Store: the only package that talks to the project database (SQLAlchemy, Alembic)."""
from .core import Store
from .schema import metadata

__all__ = ["Store", "metadata"]
