"""Import of a user's sheet (:mod:`.sheet`: reading, validation of every row, a separate dataset) and of
the Metapsy data standard (:mod:`.metapsy`)."""

from evidence.core.errors import Problem

from .sheet import *  # noqa: F401,F403  (the public names are listed in sheet.__all__)
from .sheet import __all__ as _sheet_all

__all__ = list(_sheet_all) + ["Problem"]
