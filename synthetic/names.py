"""Company names like 上海联芯信息科技有限公司: realistic-looking and pure noise.

Names are drawn independently of every trait, so a model that learns from them learns noise
(the invariance tests rely on it).
"""

from __future__ import annotations

import numpy as np

_CHARS = np.array(
    list(
        "联芯华启睿博智诚恒创微远达星云鼎泰宏盛海晟瑞德安嘉鸿源宇凯腾辰昊翼"
        "景乐融新东方越凌众合弘卓航晶思骏天"
    )
)
_FIELDS = np.array(
    [
        "信息",
        "电子",
        "智能",
        "数据",
        "软件",
        "生物",
        "医药",
        "材料",
        "能源",
        "环保",
        "自动化",
        "光电",
        "网络",
        "微电子",
        "精密",
        "检测",
        "",
    ]
)
_ENDINGS = np.array(["科技有限公司", "技术有限公司", "科技股份有限公司"])
_ENDING_SHARES = (0.75, 0.2, 0.05)


def company_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """n Chinese company names: 上海 + two characters + a field word + a legal ending."""
    first = _CHARS[rng.integers(len(_CHARS), size=n)]
    second = _CHARS[rng.integers(len(_CHARS), size=n)]
    field = _FIELDS[rng.integers(len(_FIELDS), size=n)]
    ending = _ENDINGS[rng.choice(len(_ENDINGS), size=n, p=_ENDING_SHARES)]
    return np.char.add(np.char.add(np.char.add(np.char.add("上海", first), second), field), ending)
