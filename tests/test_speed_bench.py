"""The speed bench's structure on a tiny input (timings are never asserted: benchmarks measure, tests check)."""

from tinyespcn_nodes.hosts.cli.bench.report import BenchPlan, run_bench


def test_bench_reports_every_section_and_writes_its_text(tmp_path, capsys):
    out = tmp_path / "bench.txt"
    plan = BenchPlan(
        width=48, height=40, scales=(2,), memory_test=False, folder_test=False, onnx_test=False, big_test=False,
        tiling_size=64, filter_size=64, statistics_images=1, startup_side=24, startup_repeat=1,
    )  # fmt: skip
    res = run_bench(plan, out=out)
    text = out.read_text()
    assert text == capsys.readouterr().out
    for section in ("machine:", "user path:", "peers, same image", "start-up:", "tiling,", "filters on"):
        assert section in text, section
    row = next(r for r in res["user_path"] if r["weights"] == "general-x2")
    assert row["ms_per_out_mp"] > 0 and row["gflops_over_fp32_matmul"] > 0
    assert [r["seed"] for r in res["user_path"]].count(True) == 1  # the `vs seed` column's reference
    assert "pillow_bicubic" in res["peers"][2]
    assert res["startup"]["upscale_s"] > 0 and res["startup"]["help_s"] > 0 and res["startup"]["models_s"] > 0


def test_child_processes_are_modules_run_with_dash_m_not_code_in_strings():
    import ast
    import re

    from conftest import REPO

    from tinyespcn_nodes.hosts.cli.bench.child import child_argv

    bench = REPO / "tinyespcn_nodes" / "hosts" / "cli" / "bench"
    for path in bench.glob("*.py"):
        literals = [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)]
        assert "-c" not in literals, f"{path.name} runs code held in a string"
        code = [v for v in literals if isinstance(v, str) and re.search(r"^(import \w|from [\w.]+ import )", v, re.M)]
        assert not code, f"{path.name} holds code in a string"
    for child in ("memory_child", "big_child", "still_child", "opencv_child"):
        assert "__main__" in (bench / f"{child}.py").read_text(), child
        assert child_argv(child)[1:] == ["-m", f"tinyespcn_nodes.hosts.cli.bench.{child}"]


def test_big_child_runs_the_cli_in_its_own_process_and_probes_the_file(tmp_path):
    from tinyespcn_nodes.hosts.cli.bench.child import run_child

    data = run_child("big_child", "fast-x2", "64", str(tmp_path / "in.tif"), str(tmp_path / "out.tif"))
    assert data["complete"] and data["out_side"] == 128 and data["probe_max_levels"] <= 1
    assert data["peak_rss"] >= data["rss_before"] > 0
