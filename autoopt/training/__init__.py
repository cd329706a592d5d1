"""Training: what runs inside a trial, wherever an executor puts it. Knows nothing of the search.

``task`` loads a model file and checks its contract, ``data`` stacks its datasets into
tensors, ``preflight`` runs one batch before any trial, ``runner`` trains one trial, and
``fused`` trains a group of trials as one vmapped model (and measures whether that pays).
"""
