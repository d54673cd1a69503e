"""Subgroup analysis and meta-regression.

:func:`subgroups` pools each group separately (its own tau^2) and tests
whether the group estimates differ; :func:`meta_regression` fits the
mixed-effects model ``y_i = x_i' beta + u_i + e_i`` of metafor
``rma(yi, vi, mods = X)``.
"""

from __future__ import annotations

from .regression import MetaRegression, meta_regression
from .subgroups import SubgroupAnalysis, subgroups

__all__ = ["SubgroupAnalysis", "MetaRegression", "subgroups", "meta_regression"]
