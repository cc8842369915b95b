"""Zoo specs from the tran paper (filled in by the zoo issue)."""
