"""Privacy: a reader's erasure on the host site's request, and retention of refused comments."""
