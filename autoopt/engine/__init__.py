"""The search engine: from a study spec to a recommendation. Imports nothing until asked.

- the spec: ``settings`` (every setting declared once), ``spec``, ``space``, ``param_names``;
- running a search: ``run`` (``autoopt.search``: open the study, calibrate, build the
  executor, run the phases), ``study`` (sampler, pruner, counting), ``calibrate`` (the
  learning-rate range test), ``trial_loop`` (ask/tell over an executor), ``failure_policy``,
  ``pruning``, ``fusion`` (fused groups' sizes, and asking their members),
  ``search_progress`` and ``search_result``;
- the phases: ``phases`` (what the stored trials say: noise, trusted rungs, the race),
  ``phase_runs`` (screen, search and confirm, run), ``pattern_search`` (inside a family),
  ``confirmations`` (which configurations get more seeds);
- the answer: ``evidence`` (seeds, noise, ties), ``recommend``, ``recommendation_text``,
  ``tally`` and ``trial_rows`` (what the listings and the dashboard show).

The engine drives executors (``autoopt.executors``) and is the one writer to storage
(``autoopt.storage``); it never imports the commands (``autoopt.cli``).
"""
