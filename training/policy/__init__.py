"""The rate policy: learn each promoter's response to its commission rate from logged history with
known propensities, choose rates under a commission budget, and judge any policy off the logs.

Entry points: `evaluation.evaluate_policies` (simulate, learn, run every policy forward, compare)
and `response_model.fit_response`. Imports features (the response simulator) and nothing above it;
guardrails arrive as a `Guard` (see `protocol.py`) from whoever wires serving in.
"""
