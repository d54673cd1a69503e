"""Presentation without Streamlit: chart builders (:mod:`.charts`), plain-language wording
(:mod:`.wording`) and exports of charts and tables (:mod:`.export`)."""
