"""One module per feature family; each exposes ``compute(ctx, done) -> dict[name, array]``.

``done`` holds the columns of the families computed before it (the policy family reads the
IP, financial and staffing columns instead of recomputing them). The order is ``FAMILY_ORDER``.
"""
