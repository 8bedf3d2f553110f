"""Run every benchmark script in turn (``make bench``) and repeat their summary lines at the end.

``python benchmarks/run_all.py [--quick]``
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("protocol", "sweep", "corruptions", "train_step", "sharded", "attacks",
           "weight_noise", "ensemble")


def main() -> int:
    extra = sys.argv[1:]
    summaries, failed = [], []
    for name in SCRIPTS:
        print(f"\n===== {name} =====", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(proc.stdout, end="", flush=True)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("SUMMARY")]
        summaries += lines or [f"SUMMARY {name}: no summary line (exit {proc.returncode})"]
        if proc.returncode:
            failed.append(name)
    print("\n===== summary =====")
    print("\n".join(summaries))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
