"""Batch screening for guarantee funds: many firms' records in, scores, reasons and a report out.

``partition`` splits the inputs by firm, ``part`` screens one part with the service's own
feature and scoring code, ``portfolio`` reduces parts to the fund's numbers and ``run`` drives
it all, in one process or on Dask.
"""
