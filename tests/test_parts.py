import pytest

from hw_models import UnknownPartError, list_parts, load_part

REQUIRED = ["xcvu13p-flga2577-2-e", "xcvu9p-flga2577-2-e", "xcu250-figd2104-2L-e", "xczu9eg-ffvb1156-2-e",
            "xc7z020-clg400-1", "xcku115-flvb2104-2-i"]


def test_required_parts_present():
    assert sorted(p.part for p in list_parts()) == sorted(REQUIRED)


def test_part_figures():
    z = load_part("xc7z020-clg400-1")
    assert (z.lut, z.ff, z.dsp, z.bram_18k, z.dsp_type, z.dsp_ports) == (53200, 106400, 220, 280, "DSP48E1", (25, 18))
    assert load_part("XCVU13P-FLGA2577-2-E").dsp == 12288


def test_unknown_part_names_known_ones():
    with pytest.raises(UnknownPartError, match=r"unknown FPGA part 'xc7foo'; known parts: xc7z020-clg400-1"):
        load_part("xc7foo")


def test_hw_models_is_framework_free():
    import subprocess
    import sys

    code = ("import sys, hw_models, hw_models.cost, hw_models.costmodel, hw_models.corpus, hw_models.fit, "
            "hw_models.reports, hw_models.reuse; hw_models.load_part('xc7z020-clg400-1'); "
            "print('tensorflow' in sys.modules, 'hls4ml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
