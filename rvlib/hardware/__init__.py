"""Hardware constraints on weights: conductance clip ranges (``clip``)."""
