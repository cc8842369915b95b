"""Zoo specs from the chen paper (filled in by the zoo issue)."""
