"""The synthetic market: a Shanghai-like population of tech SMEs, 2016–2024.

``generate_market(n_firms, seed)`` returns the nine contract tables plus ``truth``;
``write_market(tables, out_dir)`` writes them as Parquet. ``generate_market(..., until=…)``
observes the same world later (``manifest.py`` keeps what a written market was generated
from, for ``techrisk generate --extend-to``). See ``market.py`` for the order of generation,
``calibration.py`` for the target statistics and ``truth.py`` for the true PD.
"""

from synthetic.market import TABLES, generate_market, write_market

__all__ = ["TABLES", "generate_market", "write_market"]
