"""Spatio-temporal operators, backbones and heads; knows nothing of the zoo or profiling.

Importing the package registers the built-in operators (`convs`), so that every module
below it finds them in the operator registry (`operators.OPERATORS`) and the registry
never imports the operators it holds.
"""

from stbench.models import convs as convs  # noqa: F401  (registers the built-in operators)
