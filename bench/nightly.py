"""Benchmark: the whole nightly against the floor of what DuckDB alone can do, per preset.

    .venv/bin/python bench/nightly.py --presets kaga toda amagasaki fukuoka yokohama [--workdir /tmp/mimamori-bench]
                                      [--repeat 3]  # the fastest of 3 runs of each night and floor

For each preset: generate the municipality (snapshots at T−1 and T, attendance up to T−1 plus one delta),
then measure, each in a fresh process tree sampled every 0.2 s (wall, CPU, peak RSS of the whole tree):

- first: the first full nightly (as of T−1), in an empty home;
- incremental: the next night (as of T: fresh snapshots, one new attendance delta);
- generate: the generator itself (wall, peak memory);
- floor: one DuckDB process that loads the same CSV files (T−1) with read_csv (Shift_JIS through the
  encodings extension, in parallel buffers; see bench/floor.py for the rows that extension loses) and
  runs the same models' SQL (dbt-compiled, in dependency order) to the same flag list, with no
  validation, normalisation, orchestration or exports;
- the stricter floor: the same, on UTF-8 copies of the files made before its clock starts (DuckDB's
  Shift_JIS decoding is the slow part of the first floor).

Ends with the issue's targets, each met or not.

Prints a table and the top assets and dbt models by time (from Dagster's events), and writes
reports/bench/nightly.txt and .json. Run by hand, not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AS_OF = date(2026, 11, 30)


def tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc. A child still running its
    parent's program (forked, not yet exec'd: Python starts every subprocess so) shares the parent's pages
    and would count them twice, so it is left out."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cmdline: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/status") as f:
                kb = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline[int(entry)] = f.read()
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = kb
    total, stack = rss.get(root, 0), [root]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, []):
            stack.append(child)
            if cmdline.get(child) != cmdline.get(pid):
                total += rss.get(child, 0)
    return total


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Wall and CPU time and peak tree RSS of one command."""
    before = os.times()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out[-4000:]}")
    return {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(peak[0] / 1024), "output": out}


def step_times(home: Path) -> list[tuple[str, float]]:
    """Seconds per step of the newest run and per dbt model, from the Dagster instance and dbt's results."""
    code = """
import json, dagster as dg
with dg.DagsterInstance.get() as instance:
    run = instance.get_runs(limit=1)[0]
    stats = instance.get_run_step_stats(run.run_id)
print(json.dumps([(s.step_key, (s.end_time or 0) - (s.start_time or 0)) for s in stats]))
"""
    out = subprocess.run([PYTHON, "-c", code], env={**os.environ, "DAGSTER_HOME": str(home / ".dagster")},
                         capture_output=True, text=True, check=True).stdout
    steps = [(k, float(v)) for k, v in json.loads(out)]
    results = home / "dbt" / "target" / "run_results.json"
    if results.exists():
        for r in json.loads(results.read_text())["results"]:
            if r["unique_id"].startswith("model."):
                steps.append(("dbt:" + r["unique_id"].split(".")[-1], float(r["execution_time"])))
    return sorted(steps, key=lambda s: -s[1])


def input_rows(landing: Path, as_of: date) -> int:
    from floor import data_rows, input_files  # bench/floor.py, next to this script

    return sum(data_rows(f.path) for files in input_files(landing, as_of).values() for f in files)


def bench_preset(preset: str, work: Path, repeat: int = 1) -> dict:
    """The preset's nights and floors, each ``repeat`` times: the fastest run of each is reported (the least
    disturbed by whatever else the machine did), with the highest peak memory of all and every wall time."""
    out = work / preset
    first_day = AS_OF - timedelta(days=1)
    gen = measure([PYTHON, "-m", "pipelines.cli", "generate", "--preset", preset, "--seed", "1", "--as-of",
                   str(AS_OF), "--out", str(out / "municipality"), "--days", "1"])
    landing = out / "municipality" / "landing"
    home = out / "home"
    firsts, incrementals, floors, floors_utf8 = [], [], [], []
    for _ in range(repeat):
        subprocess.run(["rm", "-rf", str(home)], check=True)
        firsts.append(measure([PYTHON, "-m", "pipelines.cli", "nightly", "--landing", str(landing), "--home",
                               str(home), "--as-of", str(first_day)]) | {"steps": step_times(home)})
        incrementals.append(measure([PYTHON, "-m", "pipelines.cli", "nightly", "--landing", str(landing), "--home",
                                     str(home), "--as-of", str(AS_OF)]) | {"steps": step_times(home)})
        floors.append(run_floor(landing, first_day, out / "floor"))
        floors_utf8.append(run_floor(landing, first_day, out / "floor-utf8", "--utf8"))
    first, incremental, floor, floor_utf8 = (fastest(runs) for runs in (firsts, incrementals, floors, floors_utf8))
    rows = input_rows(landing, first_day)
    return {"preset": preset, "input_rows": rows, "repeat": repeat, "generate": _strip(gen), "first": _strip(first),
            "incremental": _strip(incremental), "floor": _strip(floor),
            "floor_utf8": _strip(floor_utf8),
            "ratio_first_to_floor": round(first["wall_s"] / floor["wall_s"], 2),
            "ratio_first_to_utf8_floor": round(first["wall_s"] / floor_utf8["wall_s"], 2),
            "us_per_row_first": round(first["wall_s"] / rows * 1e6, 2),
            "top_steps_first": first["steps"][:12], "top_steps_incremental": incremental["steps"][:8],
            "floor_detail": floor["output"].strip().splitlines()[-3:]}


def fastest(runs: list[dict]) -> dict:
    """The run with the least wall time, with the highest peak memory of all the runs and every wall time."""
    best = min(runs, key=lambda r: r["wall_s"])
    return best | {"peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "walls": [r["wall_s"] for r in runs]}


def run_floor(landing: Path, as_of: date, work: Path, *flags: str) -> dict:
    """bench/floor.py; its own clock covers load + SQL (not the dbt compile that prepares its SQL, nor
    Python's start, nor the UTF-8 copies of --utf8)."""
    floor = measure([PYTHON, str(PROJECT / "bench" / "floor.py"), str(landing), str(as_of), str(work), *flags])
    printed = dict(line.split()[:2] for line in floor["output"].splitlines() if line.startswith("FLOOR_"))
    return floor | {"wall_s": float(printed["FLOOR_SECONDS"]), "rows_lost": int(printed["FLOOR_ROWS_LOST"])}


def targets(results: list[dict]) -> list[str]:
    """The targets of the benchmark and memory issues, for the presets measured."""
    by = {r["preset"]: r for r in results}
    rows = []
    gib = 3 * 1024
    for name in ("fukuoka", "yokohama"):
        if name in by:
            r = by[name]
            for night in ("first", "incremental"):
                rows.append((f"{name} {night} night peak memory ≤ 3 GB", r[night]["peak_rss_mb"] <= gib,
                             f"{r[night]['peak_rss_mb']} MB"))
    if "fukuoka" in by:
        f = by["fukuoka"]
        rows += [("fukuoka first night ≤ 2 × the UTF-8 floor", f["ratio_first_to_utf8_floor"] <= 2,
                  f"{f['ratio_first_to_utf8_floor']} ×"),
                 ("fukuoka first night ≤ 3 × the Shift_JIS floor", f["ratio_first_to_floor"] <= 3,
                  f"{f['ratio_first_to_floor']} ×"),
                 ("fukuoka incremental night ≤ 15 s", f["incremental"]["wall_s"] <= 15, f"{f['incremental']['wall_s']} s")]
    if "yokohama" in by:
        g = by["yokohama"]["generate"]
        rows += [("yokohama generated in ≤ 3 min", g["wall_s"] <= 180, f"{g['wall_s']} s"),
                 ("yokohama generated within 4 GB", g["peak_rss_mb"] <= 4096, f"{g['peak_rss_mb']} MB")]
    if not rows:
        return []
    return ["", "Targets:"] + [f"  {'met    ' if ok else 'NOT MET'} {name:<46} {value}" for name, ok, value in rows]


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("output", "steps")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["kaga", "toda", "amagasaki", "fukuoka"])
    p.add_argument("--workdir", default="/tmp/mimamori-bench")
    p.add_argument("--repeat", type=int, default=1, help="runs of each night and floor; the fastest is reported")
    args = p.parse_args()
    results = []
    for preset in args.presets:
        results.append(bench_preset(preset, Path(args.workdir), args.repeat))
        print(f"{preset}: first {results[-1]['first']['wall_s']} s, incremental "
              f"{results[-1]['incremental']['wall_s']} s, floor {results[-1]['floor']['wall_s']} s", flush=True)
    lines = [f"{'preset':<10} {'rows':>11} {'first s':>8} {'cpu s':>7} {'peak MB':>8} {'incr s':>7} "
             f"{'cpu s':>6} {'incr MB':>8} {'floor s':>8} {'lost':>5} {'ratio':>6} {'utf8 floor':>10} "
             f"{'ratio':>6} {'µs/row':>7} {'gen s':>6} {'gen MB':>7}"]
    for r in results:
        lines.append(f"{r['preset']:<10} {r['input_rows']:>11,} {r['first']['wall_s']:>8} {r['first']['cpu_s']:>7} "
                     f"{r['first']['peak_rss_mb']:>8} {r['incremental']['wall_s']:>7} "
                     f"{r['incremental']['cpu_s']:>6} {r['incremental']['peak_rss_mb']:>8} {r['floor']['wall_s']:>8} "
                     f"{r['floor']['rows_lost']:>5} {r['ratio_first_to_floor']:>6} "
                     f"{r['floor_utf8']['wall_s']:>10} {r['ratio_first_to_utf8_floor']:>6} "
                     f"{r['us_per_row_first']:>7} {r['generate']['wall_s']:>6} {r['generate']['peak_rss_mb']:>7}")
    for r in results:
        if r["repeat"] > 1:
            lines.append(f"{r['preset']}: fastest of {r['repeat']} runs (peak memory: the highest); every run's s: "
                         + ", ".join(f"{k} {' / '.join(str(w) for w in r[k]['walls'])}"
                                     for k in ("first", "incremental", "floor", "floor_utf8")))
    for r in results:
        lines.append(f"\n{r['preset']}: where the first night's time goes")
        lines += [f"  {k:<45} {v:7.1f} s" for k, v in r["top_steps_first"]]
        lines.append(f"{r['preset']}: incremental night")
        lines += [f"  {k:<45} {v:7.1f} s" for k, v in r["top_steps_incremental"]]
    lines += targets(results)
    text = "\n".join(lines)
    print(text)
    folder = PROJECT / "reports" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nightly.txt").write_text(text + "\n")
    (folder / "nightly.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
