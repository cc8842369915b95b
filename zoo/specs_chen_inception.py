"""Zoo specs: Chen et al. InceptionV1 models (filled in by the zoo issue)."""
