"""Import every model module so that ``Base.metadata`` knows all tables (Alembic, tests)."""
from backend.audit import models as audit_models  # noqa: F401
from backend.auth import models as auth_models  # noqa: F401
from backend.db import Base  # noqa: F401
from backend.directory import models as directory_models  # noqa: F401
from backend.jobs import models as job_models  # noqa: F401
from backend.publication import models as publication_models  # noqa: F401

MODEL_MODULES = ["backend.plans.models", "backend.draws.models", "backend.inspections.models",
                 "backend.followups.models",
                 "backend.inspections.pdf_models", "backend.media.models", "sync.models",
                 "backend.notifications.models", "backend.figures.facts"]


def _load_optional() -> None:
    import importlib

    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise


_load_optional()
