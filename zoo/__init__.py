"""The stbench model zoo: named variants of the four papers as specs over `models/`."""

from stbench.zoo.registry import PAPERS, ModelSpec, create_model, get_spec, list_models, list_specs

__all__ = ["PAPERS", "ModelSpec", "create_model", "get_spec", "list_models", "list_specs"]
