"""The evidence store: schema, atomic build from ``data/*.csv``, controlled lists, connections and the
registry of datasets (shipped, imported). Statements that read the store live in :mod:`evidence.query`."""
