"""Zoo specs from the luo paper (filled in by the zoo issue)."""
