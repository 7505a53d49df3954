"""Customer lifetime value and promoter LTV/CAC (issue 5); see training/ltv/README.md.

Entry points: `evaluation.evaluate_ltv` (out-of-time scores), `train.train_ltv` / `train.train`
(MLflow run + champion gate for `fenrun-ltv`), `promoter_value.customer_value` and
`promoter_value.promoter_value`. Imports `settlement` only for reading the books.
"""
