"""The speed bench's structure on a tiny input (timings are never asserted: benchmarks measure, tests check)."""

from tinyespcn_nodes.hosts.cli.bench.rows import run_bench


def test_bench_reports_every_section_and_writes_its_text(tmp_path, capsys):
    out = tmp_path / "bench.txt"
    res = run_bench(
        width=48, height=40, scales=[2], memory_test=False, folder_test=False, onnx_test=False, big_test=False, out=out,
        tiling_size=64, filter_size=64, statistics_images=1,
    )  # fmt: skip
    text = out.read_text()
    assert text == capsys.readouterr().out
    for section in ("machine:", "user path:", "peers, same image", "tiling,", "filters on"):
        assert section in text, section
    row = next(r for r in res["user_path"] if r["weights"] == "general-x2")
    assert row["ms_per_out_mp"] > 0 and row["gflops_over_fp32_matmul"] > 0
    assert [r["seed"] for r in res["user_path"]].count(True) == 1  # the `vs seed` column's reference
    assert "pillow_bicubic" in res["peers"][2]
