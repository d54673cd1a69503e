"""Altair chart builders for the dashboard: pure functions from tables to charts.

Every builder takes plain data (a ``pandas.DataFrame`` with the columns of
:func:`evidence.effects` or of one of the diagnostic tables, plus a
``stats.PooledEstimate``-like object) and returns an Altair chart. Nothing here
touches Streamlit, the database or the network, so the charts can be tested
through ``chart.to_dict()`` and exported with :mod:`evidence.present.export`.

Conventions
-----------
* Effects arrive on the analysis scale (``yi``: SMD, log risk ratio or log odds
  ratio). Ratio measures are drawn on their natural scale (``exp``) on a log
  axis, so 1 is "no difference"; SMDs are drawn as they are around 0.
* Which side favours peer support is an argument (``ps_side``): SMD rows are
  oriented so positive favours peer support; for ratios it depends on whether
  the event is good or bad, which the analysis states in words
  (see :class:`evidence.core.measures.Favours`, whose ``side`` the pages pass on).
* User text (study labels, quotes, URLs) only ever travels as Vega data
  values, never as HTML or markup.
* Colours come from the Okabe-Ito palette, which stays distinguishable under
  the common colour-vision deficiencies (Okabe & Ito 2008,
  https://jfly.uni-koeln.de/color/).
"""


from ._common import OKABE_ITO, ROB_COLOURS, axis_title
from .diagnostics import cumulative_plot, influence_plot, interval_plot, leave_one_out_plot, robustness_heatmap
from .forest_chart import forest, forest_plot, forest_plot_spec, forest_spec, study_columns, study_rows
from .funnel import FUNNEL_CONTOURS, funnel_plot
from .bayes import mu_posterior_chart, tau_posterior_chart
from .moderators import bubble_plot, compare_plot, subgroup_forest
from .reviews import AMSTAR_COLOURS, overlap_matrix, review_forest
from evidence.core.measures import RATIO_MEASURES

__all__ = [
    "OKABE_ITO",
    "ROB_COLOURS",
    "RATIO_MEASURES",
    "axis_title",
    "study_rows",
    "forest",
    "forest_plot",
    "forest_plot_spec",
    "forest_spec",
    "interval_plot",
    "leave_one_out_plot",
    "cumulative_plot",
    "influence_plot",
    "subgroup_forest",
    "bubble_plot",
    "funnel_plot",
    "robustness_heatmap",
    "compare_plot",
    "study_columns",
    "FUNNEL_CONTOURS",
    "mu_posterior_chart",
    "tau_posterior_chart",
    "AMSTAR_COLOURS",
    "review_forest",
    "overlap_matrix",
]

