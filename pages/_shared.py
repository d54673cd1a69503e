"""The page toolkit: what every page imports as ``ui`` (not a page itself).

It gathers the Streamlit glue, which lives in small modules by concern: :mod:`pages._state` (the frozen
``View``, widget keys, the URL codec of the whole view, navigation), :mod:`pages._cache` (the store's
connection and lists, and one cache for every result, :func:`result`), :mod:`pages._sidebar` (the
shared sidebar, rendered once from app.py), :mod:`pages._bayes` (the Bayesian panel and probability
sentence with their widgets), :mod:`pages._admission` (how many scripts run at once) and
:mod:`pages._render` (escaped text, domain errors, headline metrics, charts and downloads, cautions, the
per-rerun timing). No SQL and no formulas here:
numbers come from :mod:`evidence`.
"""

from ._admission import run_slot, slot_released  # noqa: F401
from ._bayes import render_panel as render_bayes_panel, render_probability  # noqa: F401
from ._cache import (RESULTS, cache_key, choice_counts, choices, connection, dataset_version,  # noqa: F401
                     forget_results, labels, ranges, result, review_findings, review_options, store_metadata,
                     summary)
from ._render import (PERF_LOGGER, PerfTimer, analysis_or_stop, display, download_chart, download_code,  # noqa: F401
                      download_table, download_table_lazily, md_escape, records_to_arrow_bytes, render_error,
                      render_metrics, rounded, show_cautions, show_chart, show_table, try_table, view_inputs)
from ._heavy import heavy_table  # noqa: F401
from ._owner import expire_old_uploads, own_datasets, own_folder  # noqa: F401
from ._sidebar import render_sidebar, show_url_notices  # noqa: F401
from ._state import (DEFAULT_OUTCOME, FIELD_LABELS, KEY_EXCLUDED, KEY_MID, KEY_MODERATOR, KEY_PRIOR,  # noqa: F401
                     KEY_PRIOR_SCALE, KEY_SCREEN, KEY_VIEW, KEYS, METHOD_LABELS, View, apply_filters, app_pages,
                     current_view, follow_goto, follow_page_link, make_view, mark_entry, open_outcome,
                     view_params)
