"""Value types every room shares: the filter spec and its field registry, and the domain errors."""
