"""Fixed-point arithmetic rules, checked against hand-computed widths."""

import numpy as np
import pytest

from codesign.spec import QuantSpec, accumulate, add, mac, parse_hls, product, spec_for_values, union


def test_signed_times_signed_adds_widths_and_integers():
    # fixed<6,1> * fixed<8,3>: W = 14, I = 4 (the standard ap_fixed product type)
    assert product(QuantSpec(6, 1), QuantSpec(8, 3)) == QuantSpec(14, 4, True)


def test_unsigned_times_signed():
    # ufixed<5,1> (0..1.9375) * fixed<6,1> ([-1, 0.96875]): |p| < 2 -> fixed<11,2>
    assert product(QuantSpec(5, 1, False), QuantSpec(6, 1)) == QuantSpec(11, 2, True)


def test_unsigned_times_unsigned():
    assert product(QuantSpec(6, 0, False), QuantSpec(4, 2, False)) == QuantSpec(10, 2, False)


def test_accumulate_grows_by_ceil_log2_terms():
    assert accumulate(QuantSpec(11, 2), 64) == QuantSpec(17, 8)
    assert accumulate(QuantSpec(11, 2), 65) == QuantSpec(18, 9)
    assert accumulate(QuantSpec(11, 2), 1) == QuantSpec(11, 2)


def test_dense_accumulator_digits_first_layer():
    # 64 inputs ufixed<5,1>, weights fixed<6,1>, bias fixed<8,3>:
    # product fixed<11,2>, sum of 64 -> fixed<17,8>, align bias (frac 9 vs 5, int 7 vs 2) + carry -> fixed<18,9>
    assert mac(QuantSpec(5, 1, False), QuantSpec(6, 1), 64, QuantSpec(8, 3)) == QuantSpec(18, 9)


def test_add_aligns_binary_points():
    # fixed<8,2> (frac 6) + ufixed<4,4> (int 4): signed int bits 4, frac 6, carry -> fixed<12,6>
    assert add(QuantSpec(8, 2), QuantSpec(4, 4, False)) == QuantSpec(12, 6)
    assert union(QuantSpec(8, 2), QuantSpec(4, 4, False)) == QuantSpec(11, 5)


def test_mac_bound_holds_for_extreme_values():
    data, weight, bias, n = QuantSpec(6, 0, False), QuantSpec(4, 1), QuantSpec(6, 2), 32
    acc = mac(data, weight, n, bias)
    extreme = n * data.max_value * weight.min_value + bias.min_value
    assert acc.min_value <= extreme and n * data.max_value * weight.max_value + bias.max_value <= acc.max_value
    assert acc.frac == max(data.frac + weight.frac, bias.frac)


def test_spec_for_values_is_narrowest_exact():
    assert spec_for_values(np.array([0.0, 0.25, 1.0])) == QuantSpec(3, 1, False)
    assert spec_for_values(np.array([-0.5, 0.125])) == QuantSpec(4, 1, True)
    assert spec_for_values(np.array([0.0])) == QuantSpec(1, 1, False)


def test_quantize_rounds_half_to_even_and_saturates():
    q = QuantSpec(4, 2, True, "RND_CONV", "SAT")  # step 0.25, range [-2, 1.75]
    x = np.array([0.125, 0.375, -0.125, 5.0, -9.0, 1.8])
    np.testing.assert_array_equal(q.quantize(x), [0.0, 0.5, 0.0, 1.75, -2.0, 1.75])


def test_quantize_truncates_and_wraps():
    q = QuantSpec(4, 2)  # TRN, WRAP
    np.testing.assert_array_equal(q.quantize(np.array([0.3, 2.0, -0.1])), [0.25, -2.0, -0.25])


def test_sat_sym_excludes_most_negative():
    q = QuantSpec(4, 1, True, "RND_CONV", "SAT_SYM")
    assert q.min_value == -0.875 and q.quantize(np.array([-5.0]))[0] == -0.875


@pytest.mark.parametrize("text", ["fixed<18,9>", "ufixed<6,0,RND_CONV,SAT>", "fixed<4,1,RND_CONV,SAT_SYM>"])
def test_hls_string_round_trip(text):
    assert parse_hls(text).to_hls() == text


def test_parse_hls_rejects_other_types():
    with pytest.raises(ValueError, match="not a fixed-point type"):
        parse_hls("float")
    with pytest.raises(ValueError, match="unknown rounding mode 'RND_HALF'; allowed: TRN, TRN_ZERO, RND,"):
        parse_hls("fixed<8,3,RND_HALF,SAT>")
    with pytest.raises(ValueError, match="unknown overflow mode 'CLIP'"):
        parse_hls("fixed<8,3,RND,CLIP>")


def test_parse_hls_integers_and_ap_prefixes():
    assert parse_hls("int<4>") == QuantSpec(4, 4, True)
    assert parse_hls("ap_uint<3>") == QuantSpec(3, 3, False)
    assert parse_hls("ap_fixed<8,3,AP_RND,AP_SAT>") == QuantSpec(8, 3, True, "RND", "SAT")


@pytest.mark.parametrize("mode, expected", [
    # values x 4 = [-1.5, -0.5, 0.5, 1.5, 0.75, -0.75]; UG1399 quantization modes
    ("TRN", [-2, -1, 0, 1, 0, -1]),
    ("TRN_ZERO", [-1, 0, 0, 1, 0, 0]),
    ("RND", [-1, 0, 1, 2, 1, -1]),
    ("RND_ZERO", [-1, 0, 0, 1, 1, -1]),
    ("RND_INF", [-2, -1, 1, 2, 1, -1]),
    ("RND_MIN_INF", [-2, -1, 0, 1, 1, -1]),
    ("RND_CONV", [-2, 0, 0, 2, 1, -1]),
])
def test_every_rounding_mode(mode, expected):
    q = QuantSpec(6, 4, True, mode, "SAT")  # lsb 1/4
    x = np.array([-1.5, -0.5, 0.5, 1.5, 0.75, -0.75]) / 4
    np.testing.assert_array_equal(q.quantize(x) * 4, expected)


def test_sat_zero_sets_overflows_to_zero():
    q = QuantSpec(4, 2, True, "TRN", "SAT_ZERO")  # [-2, 1.75]
    np.testing.assert_array_equal(q.quantize(np.array([1.75, 2.0, -2.0, -2.25])), [1.75, 0.0, -2.0, 0.0])


def test_atomic_dir_replaces_the_folder_but_keeps_named_siblings(tmp_path):
    from codesign.atomic import atomic_dir

    final = tmp_path / "digits"
    (final / "search").mkdir(parents=True)
    (final / "search" / "trials.csv").write_text("kept")
    (final / "report.md").write_text("old")
    (final / "stale.txt").write_text("old")
    with atomic_dir(final, keep=("search", "learned")) as tmp:
        (tmp / "report.md").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["report.md", "search"]
    assert (final / "report.md").read_text() == "new" and (final / "search" / "trials.csv").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["digits"]  # no temp or old folder left


def test_atomic_outputs_honour_the_umask(tmp_path):
    """Report folders and files are read by other users and search workers on a shared file system: the
    temp-then-rename path must not leave mkdtemp's 0700 / mkstemp's 0600."""
    import os

    from codesign.atomic import atomic_dir, atomic_write_text

    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "report") as tmp:
            (tmp / "a.txt").write_text("x")
        atomic_write_text(tmp_path / "report" / "b.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "report").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "report" / "b.json").stat().st_mode & 0o777 == 0o644
