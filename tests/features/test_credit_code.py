"""The credit-code checksum: generated codes validate, every single-character error is caught."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.credit_code import (
    ALPHABET,
    SHANGHAI_DIVISIONS,
    InvalidCreditCode,
    check_character,
    generate_codes,
    is_valid,
    valid_mask,
    validate,
)
from techrisk_base.errors import TechriskError

#: Characters a code may never hold: the five letters GB 32100 leaves out, lower case,
#: punctuation, a full-width digit and a Chinese character.
DISALLOWED = "IOZSVaiz -_.０中"

# Huawei Technologies Co., Ltd. (华为技术有限公司), 914403001922038216, checked by hand:
#   chars    9  1  4  4  0  3  0  0  1  9  2  2  0  3  8  2  1
#   weights  1  3  9 27 19 26 16 17 20 29 25 13  8 24 10 30 28
#   products 9  3 36 108 0 78  0  0 20 261 50 26 0 72 80 60 28  -> sum 831
#   831 mod 31 = 25 (31 * 26 = 806), 31 - 25 = 6 -> '6'
HUAWEI = "914403001922038216"
# 91440300708461136T: sum 966, 966 mod 31 = 5, 31 - 5 = 26 -> 'T' (values: A=10 ... R=25, T=26).
SECOND_REAL = "91440300708461136T"
# From the task brief; its check character is 'J', not 'Y': sum 1966 (M=21 x 20, A=10 x 29,
# F=15 x 13, L=20 x 8, L=20 x 10, H=17 x 30, ...), 1966 mod 31 = 13, 31 - 13 = 18 -> 'J'.
WRONG_CHECK = "91310000MA1FL3LH1Y"

codes = st.integers(0, 2**32 - 1).map(
    lambda seed: generate_codes(1, np.random.default_rng(seed))[0]
)


@pytest.mark.parametrize("code", [HUAWEI, SECOND_REAL, "0" * 18])
def test_known_codes_are_valid(code: str) -> None:
    validate(code)
    assert is_valid(code)
    assert check_character(code[:17]) == code[17]


def test_check_value_31_is_written_0_and_30_is_y() -> None:
    # all zeros: sum 0, 31 - 0 = 31 -> '0'; a leading '1': sum 1, 31 - 1 = 30 -> 'Y'.
    assert check_character("0" * 17) == "0"
    assert check_character("1" + "0" * 16) == "Y"


def test_wrong_check_character_names_expected_and_got() -> None:
    with pytest.raises(InvalidCreditCode, match="check character expected 'J' got 'Y'") as err:
        validate(WRONG_CHECK)
    assert err.value.position == 18
    assert not is_valid(WRONG_CHECK)


@pytest.mark.parametrize("code", ["", HUAWEI[:17], HUAWEI + "0"])
def test_length_is_checked(code: str) -> None:
    with pytest.raises(InvalidCreditCode, match=f"length must be 18; got {len(code)}"):
        validate(code)


@pytest.mark.parametrize(
    ("code", "position", "char"),
    [("9I4403001922038216", 2, "I"), ("914403001922038O16", 16, "O"), (HUAWEI[:-1] + "z", 18, "z")],
)
def test_characters_outside_the_alphabet_name_their_position(
    code: str, position: int, char: str
) -> None:
    with pytest.raises(InvalidCreditCode, match=f"'{char}' not allowed at position {position}"):
        validate(code)


def test_division_code_must_be_digits() -> None:
    first17 = "9131A115" + "MA1H7J8L5"
    code = first17 + check_character(first17)  # right check character, wrong structure
    with pytest.raises(InvalidCreditCode, match=r"position 5 .*administrative division") as err:
        validate(code)
    assert err.value.position == 5
    assert not valid_mask(pd.Series([code]))[0]


def test_non_strings_are_invalid() -> None:
    with pytest.raises(InvalidCreditCode, match="must be a string; got int"):
        validate(914403001922038216)
    assert not is_valid(None)


def test_invalid_credit_code_is_a_value_error_and_a_techrisk_error() -> None:
    assert issubclass(InvalidCreditCode, ValueError)
    assert issubclass(InvalidCreditCode, TechriskError)


@given(codes)
def test_generated_codes_validate(code: str) -> None:
    validate(code)
    assert code.startswith("91") and code[2:8] in SHANGHAI_DIVISIONS


@given(codes, st.integers(0, 17), st.sampled_from(ALPHABET + DISALLOWED))
def test_any_single_character_change_is_rejected(code: str, position: int, char: str) -> None:
    if code[position] == char:
        return
    changed = code[:position] + char + code[position + 1 :]
    assert not is_valid(changed)
    assert not valid_mask(pd.Series([changed]))[0]
    with pytest.raises(InvalidCreditCode):
        validate(changed)


def test_every_single_character_change_of_a_real_code_is_rejected() -> None:
    changed = [
        HUAWEI[:i] + c + HUAWEI[i + 1 :]
        for i in range(18)
        for c in ALPHABET + DISALLOWED
        if c != HUAWEI[i]
    ]
    assert not valid_mask(pd.Series(changed)).any()
    assert not any(is_valid(c) for c in changed)


@given(codes, st.integers(0, 15))
def test_adjacent_transpositions_before_the_check_character_are_rejected(
    code: str, position: int
) -> None:
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    assert not is_valid(swapped)


@given(st.lists(st.one_of(codes, st.text(max_size=20), st.none(), st.integers())))
def test_valid_mask_agrees_with_is_valid(values: list[object]) -> None:
    mask = valid_mask(pd.Series(values, dtype=object))
    assert mask.tolist() == [is_valid(v) for v in values]


def test_valid_mask_on_string_and_other_dtypes() -> None:
    text = pd.Series([HUAWEI, WRONG_CHECK, None, "short"], dtype="str")
    assert valid_mask(text).tolist() == [True, False, False, False]
    assert valid_mask(pd.Series([1, 2])).tolist() == [False, False]
    assert valid_mask(pd.Series([], dtype="str")).shape == (0,)


def test_generate_codes_is_unique_deterministic_and_fast() -> None:
    start = time.perf_counter()
    many = generate_codes(100_000, np.random.default_rng(7))
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert len(np.unique(many)) == len(many) == 100_000
    assert valid_mask(pd.Series(many)).all()
    assert (generate_codes(100_000, np.random.default_rng(7)) == many).all()


def test_generate_codes_uses_the_given_divisions() -> None:
    drawn = generate_codes(500, np.random.default_rng(1), division_codes=["110108", "440305"])
    assert {c[2:8] for c in drawn} == {"110108", "440305"}
    assert generate_codes(0, np.random.default_rng(1)).shape == (0,)


@pytest.mark.parametrize("divisions", [[], ["31011"], ["31O115"]])
def test_generate_codes_rejects_bad_divisions(divisions: list[str]) -> None:
    with pytest.raises(ValueError, match="division_codes must be 6-digit strings"):
        generate_codes(3, np.random.default_rng(0), division_codes=divisions)
