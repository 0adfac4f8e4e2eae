"""Two CPU processes under torchrun (gloo): replicas stay identical and only rank 0 writes."""

import os
import subprocess
import sys
import textwrap

import torch

WORKER = textwrap.dedent("""
    import os, sys, torch
    from trainer.config import TrainConfig
    from trainer.loop import Trainer
    data, run, out = sys.argv[1:4]
    cfg = TrainConfig(data=[data], dataset="lsdir", model={"channels": 8, "blocks": 2}, patch=12, batch=2, steps=4, warmup=1,
                      lr=1e-2, ckpt_every=2, val_every=1000, log_every=2, run_dir=run, threads=1, workers=1, ema=0)
    t = Trainer(cfg)
    start = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.fit()
    rank = int(os.environ["RANK"])
    torch.save({"start": start, "end": t.model.state_dict()}, os.path.join(out, f"rank{rank}.pt"))
""")


def test_two_process_gloo_ddp_keeps_replicas_identical(image_folder, tmp_path):
    data = image_folder
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(data),
        str(tmp_path / "run"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in r0["end"]:
        assert torch.equal(r0["start"][k], r1["start"][k]), f"{k}: replicas start differently"
        assert torch.equal(r0["end"][k], r1["end"][k]), f"{k}: replicas diverged"
    assert any(not torch.equal(r0["start"][k], r0["end"][k]) for k in r0["end"]), "no training happened"
    log_rows = (tmp_path / "run" / "log.csv").read_text().strip().splitlines()
    assert len(log_rows) == 3  # header + steps 2 and 4, written once (rank 0 only)
    assert (tmp_path / "run" / "final.safetensors").is_file()
