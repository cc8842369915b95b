"""Zoo specs from the xie paper (filled in by the zoo issue)."""
