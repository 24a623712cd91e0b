"""The registered scores, one registered function each (see `simcse_lab.evaluation.scoring`).

Every module here is imported by the registry on first use; a new score is a new function with
``@SCORES.register`` in a module here or in a plugin module.
"""
