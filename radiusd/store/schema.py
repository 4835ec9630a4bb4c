"""The whole schema on one metadata: every module of tables imported, for Alembic's comparison.

Tables live in several modules (the core in models, the prefix tree and discovery beside it);
each imports the declarative base from models, so models cannot import them back without a
cycle. What needs every table at once (migrations' autogenerate check, schema tests) imports
this module.
"""

from __future__ import annotations

from . import discovery_models, prefix_models
from .models import Base

metadata = Base.metadata

__all__ = ["discovery_models", "metadata", "prefix_models"]
