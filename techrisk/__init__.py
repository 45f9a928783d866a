"""The thin ``techrisk`` command line: wiring only; the work lives in the packages."""
