"""Spatio-temporal operators, backbones and heads; knows nothing of the zoo or profiling."""
