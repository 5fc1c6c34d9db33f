"""Scale check on full-size synthetic stand-ins of PTB-XL, ECG-QA and MIMIC-IV-ECG.

    python scripts/bench_scale.py build --data ../shared/data --root /tmp/scale
    python scripts/bench_scale.py run --root /tmp/scale [--json OUT.json] [--only NAME,...]

``build`` makes, under ``--root`` (never inside the repository):

- ``ecg-qa/``: every official chunk of every dataset/kind/split (``qa.EXPECTED_CHUNKS``), each a
  copy of real samples (from the partial ``ecg-qa`` here) with the chunk's own ``sample_id``s and
  the ``ecg_id``s / ``study_id``s moved onto the synthetic records, written like the official
  files (``json.dump(indent=4)``); the last chunk of a split holds the official remainder;
- ``ptb-xl/``: the real ``ptbxl_database.csv`` / ``scp_statements.csv`` and all 21,799 records at
  100 and 500 Hz (``filename_lr``/``filename_hr``): a header of the record's own name per record and
  a symbolic link to the signal file of record 1;
- ``mimic-iv-ecg/``: ``record_list.csv`` with ``--mimic-rows`` studies (default 800,000) in the
  official layout, ``--mimic-present`` of them (default 3,000) written with ``wfdb.wrsamp``
  (12 leads, 500 Hz, 10 s);
- ``huge/``: a header claiming 10^9 samples and a 1 GB sparse ``.dat`` with a matching header.

``run`` measures each step in a fresh process (``os.wait4``: wall time and that process's peak
RSS) and prints one line per step (``--json`` writes them all). Steps that open files report what
they opened (an audit hook counts ``open`` by extension and folder listings).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SPLIT_SAMPLES = {  # official sample counts (ECG-QA v1.0.2) where known; else full chunks
    ("ptbxl", "train"): 267_539,
    ("ptbxl", "valid"): 64_663,
    ("ptbxl", "test"): 82_146,
    ("mimic-iv-ecg", "test"): 274_364,  # the real last chunk 270000.json holds 4,364
}
MIMIC_STUDY_BASE = 40_000_000
MIMIC_SUBJECT_BASE = 10_000_000


# ----------------------------------------------------------------------------------- build
def _real_pool(data: Path, dataset: str, kind: str) -> list[dict]:
    pool: list[dict] = []
    for path in sorted((data / "ecg-qa" / dataset / kind).glob("*/*.json")):
        pool.extend(json.loads(path.read_text(encoding="utf-8")))
    if not pool:
        raise SystemExit(f"no real {dataset}/{kind} chunks under {data / 'ecg-qa'}")
    return pool


def build_ecgqa(data: Path, root: Path, ptbxl_ids: list[int], mimic_ids: list[int]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ecgqa_tools.qa._samples import EXPECTED_CHUNKS, KINDS

    out = root / "ecg-qa"
    for (dataset, split), n_chunks in EXPECTED_CHUNKS.items():
        ids = ptbxl_ids if dataset == "ptbxl" else mimic_ids
        total = SPLIT_SAMPLES.get((dataset, split), n_chunks * 10_000)
        for kind in KINDS:
            pool = _real_pool(data, dataset, kind)
            real_ids = sorted({e for s in pool for e in s["ecg_id"]})
            folder = out / dataset / kind / split
            folder.mkdir(parents=True, exist_ok=True)
            for chunk in range(n_chunks):
                path = folder / f"{chunk * 10_000:05d}.json"
                if path.is_file():
                    continue
                n = min(10_000, total - chunk * 10_000)
                shift = (chunk * 7919 + {"train": 0, "valid": 3, "test": 5}[split] * 1009) % len(ids)
                position = {e: i for i, e in enumerate(real_ids)}
                items = []
                for j in range(n):
                    s = dict(pool[(chunk * 10_000 + j) % len(pool)])
                    s["sample_id"] = chunk * 10_000 + j
                    s["ecg_id"] = [ids[(position[e] * 13 + shift) % len(ids)] for e in s["ecg_id"]]
                    items.append(s)
                tmp = path.with_suffix(".tmp")
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump(items, fh, indent=4)
                os.replace(tmp, path)
            print(f"ecg-qa {dataset}/{kind}/{split}: {n_chunks} chunks", file=sys.stderr)


def build_ptbxl(data: Path, root: Path) -> list[int]:
    import csv

    src, out = data / "ptb-xl", root / "ptb-xl"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copyfile(src / name, out / name)
    ids: list[int] = []
    templates = {
        col: ((src / f"{stem}.hea").read_text(), (src / f"{stem}.dat").resolve())
        for col, stem in (("filename_lr", "records100/00000/00001_lr"), ("filename_hr", "records500/00000/00001_hr"))
    }
    with open(out / "ptbxl_database.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ids.append(int(row["ecg_id"]))
            for column, (header, dat) in templates.items():
                base = out / row[column]
                if (base.parent / (base.name + ".hea")).is_file():
                    continue
                base.parent.mkdir(parents=True, exist_ok=True)
                old = header.split()[0]
                (base.parent / (base.name + ".hea")).write_text(header.replace(old, base.name))
                link = base.parent / (base.name + ".dat")
                if not link.is_symlink():
                    link.symlink_to(dat)
    print(f"ptb-xl: {len(ids)} records at 100 and 500 Hz", file=sys.stderr)
    return ids


def mimic_study_ids(rows: int) -> list[int]:
    return [MIMIC_STUDY_BASE + 37 * i for i in range(rows)]


def _mimic_rel(study_id: int, subject_id: int) -> str:
    return f"files/p{str(subject_id)[:4]}/p{subject_id}/s{study_id}/{study_id}"


def build_mimic(root: Path, rows: int, present: int) -> list[int]:
    import numpy as np
    import wfdb

    out = root / "mimic-iv-ecg"
    out.mkdir(parents=True, exist_ok=True)
    ids = mimic_study_ids(rows)
    listing = out / "record_list.csv"
    if not listing.is_file():
        tmp = listing.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("subject_id,study_id,file_name,ecg_time,path\n")
            for i, study in enumerate(ids):
                subject = MIMIC_SUBJECT_BASE + i // 5
                fh.write(f"{subject},{study},{study},2180-07-23 08:{i % 60:02d}:00,{_mimic_rel(study, subject)}\n")
        os.replace(tmp, listing)
    # Present: every 'step'-th listed study, so ECG-QA samples referencing them exist.
    step = max(1, rows // present)
    leads = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
    t = np.arange(5000) / 500.0
    made = 0
    for i in range(0, rows, step):
        if made >= present:
            break
        study, subject = ids[i], MIMIC_SUBJECT_BASE + i // 5
        base = out / _mimic_rel(study, subject)
        made += 1
        if (base.parent / f"{study}.dat").is_file():
            continue
        base.parent.mkdir(parents=True, exist_ok=True)
        beat = np.sin(2 * np.pi * (1.0 + (i % 7) / 10) * t) ** 15
        signal = np.stack([beat * (0.5 + 0.1 * k) for k in range(12)], axis=1)
        wfdb.wrsamp(str(study), fs=500, units=["mV"] * 12, sig_name=leads, p_signal=signal,
                    fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(base.parent))
    print(f"mimic-iv-ecg: {rows} listed, {made} present", file=sys.stderr)
    return ids


def build_mimic_placeholders(root: Path, n: int) -> None:
    """``mimic-walk/``: ``n`` listed studies, every one with (empty) .hea/.dat files, to time a
    walk of a tree where all listed studies are present (a complete copy has ~800,000)."""
    out = root / "mimic-walk"
    if (out / "record_list.csv").is_file():
        return
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "record_list.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("subject_id,study_id,file_name,ecg_time,path\n")
        for i in range(n):
            study, subject = MIMIC_STUDY_BASE + 37 * i, MIMIC_SUBJECT_BASE + i // 5
            rel = _mimic_rel(study, subject)
            fh.write(f"{subject},{study},{study},2180-07-23 08:00:00,{rel}\n")
            folder = out / rel.rsplit("/", 1)[0]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{study}.hea").touch()
            (folder / f"{study}.dat").touch()
    os.replace(tmp, out / "record_list.csv")
    print(f"mimic-walk: {n} placeholder studies", file=sys.stderr)


def build_huge(root: Path) -> None:
    out = root / "huge"
    out.mkdir(parents=True, exist_ok=True)
    leads = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    # A header claiming 10^9 samples (55 h at 5 kHz) over a small signal file.
    lines = ["claims 12 5000 1000000000"] + [f"claims.dat 16 1000.0(0)/mV 16 0 0 0 0 {ld}" for ld in leads]
    (out / "claims.hea").write_text("\n".join(lines) + "\n")
    (out / "claims.dat").write_bytes(b"\0" * 24 * 5000)
    # A 1 GB sparse signal file with a header that matches it (500 Hz, 12 leads, 23 h).
    n = 10**9 // 24
    lines = [f"big 12 500 {n}"] + [f"big.dat 16 1000.0(0)/mV 16 0 0 0 0 {ld}" for ld in leads]
    (out / "big.hea").write_text("\n".join(lines) + "\n")
    with open(out / "big.dat", "wb") as fh:
        fh.truncate(n * 24)
    print("huge: claims.hea (10^9 samples), big.dat (1 GB sparse)", file=sys.stderr)


def build(args: argparse.Namespace) -> None:
    root, data = Path(args.root).resolve(), Path(args.data).resolve()
    repo = Path(__file__).resolve().parents[1]
    if root == repo or repo in root.parents:
        raise SystemExit(f"--root {root} is inside the repository; use a folder like /tmp/scale")
    ptbxl_ids = build_ptbxl(data, root)
    mimic_ids = build_mimic(root, args.mimic_rows, args.mimic_present)
    step = max(1, args.mimic_rows // args.mimic_present)
    # MIMIC ECG-QA samples point at studies spread over the listing; a share of them are present.
    referenced = [mimic_ids[i * step] for i in range(args.mimic_present) if i * step < len(mimic_ids)]
    referenced += mimic_ids[1::3][:200_000]
    build_ecgqa(data, root, ptbxl_ids, referenced)
    build_huge(root)
    if args.mimic_placeholders:
        build_mimic_placeholders(root, args.mimic_placeholders)
    one = root / "one-chunk" / "ptbxl" / "template" / "train"  # per-sample cost of a single chunk
    one.mkdir(parents=True, exist_ok=True)
    if not (one / "00000.json").exists():
        (one / "00000.json").symlink_to(root / "ecg-qa" / "ptbxl" / "template" / "train" / "00000.json")


# ----------------------------------------------------------------------------------- run
_AUDIT = r"""
import os, sys, collections, atexit, json
_opened = collections.Counter(); _listed = [0]
def _hook(event, args):
    if event == 'open' and args and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0])
        if p.startswith(os.environ['SCALE_ROOT']) and '.audit-' not in p:
            name = os.path.basename(p)
            _opened[name.rsplit('.', 1)[-1] if '.' in name else '(none)'] += 1
            if p.endswith('.json'):
                _opened['json:' + os.path.relpath(os.path.dirname(p), os.environ['SCALE_ROOT'])] += 1
    elif event in ('os.scandir', 'os.listdir') and args and isinstance(args[0], (str, bytes, os.PathLike)):
        if os.fsdecode(args[0]).startswith(os.environ['SCALE_ROOT']):
            _listed[0] += 1
sys.addaudithook(_hook)
def _dump():
    with open(os.environ['SCALE_AUDIT'], 'w') as fh:
        json.dump({'opened': dict(_opened), 'folders_listed': _listed[0]}, fh)
atexit.register(_dump)
"""


def _measure(name: str, code: str, root: Path, timeout: float = 1800) -> dict:
    """Run ``code`` in a fresh niced Python; wall time, peak RSS, files opened, its stdout/stderr."""
    audit = root / f".audit-{os.getpid()}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SCALE_ROOT": str(root), "SCALE_AUDIT": str(audit)}
    program = _AUDIT + "\n" + code
    t0 = time.perf_counter()
    proc = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", program], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    result = {"step": name, "wall_s": round(wall, 2), "exit": proc.returncode}
    try:
        stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        stats = {"stdout": out.strip()[-400:]}
    result.update(stats)
    if proc.returncode != 0 or "error" in err.lower():
        result["stderr"] = err.strip()[-600:]
    if audit.is_file():
        result.update(json.loads(audit.read_text()))
        audit.unlink()
    print(json.dumps(result), flush=True)
    return result


_PEAK = ("import resource; _peak = lambda: round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 3)\n"
         "_cpu = lambda: round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2)")


def _py(body: str) -> str:
    """A snippet that runs ``body`` (which fills ``out``) and prints out + peak RSS (GB) as JSON."""
    return f"{_PEAK}\nimport json, time\nout = {{}}\n_t0 = time.perf_counter()\n{body}\n" \
           "out['inner_s'] = round(time.perf_counter() - _t0, 2); out['cpu_s'] = _cpu(); out['peak_rss_gb'] = _peak()\n" \
           "print(json.dumps(out))"


def _cli(argv: list[str], marker: str | None = None) -> str:
    """A snippet running ``ecgqa argv`` in-process; ``marker``: time to the first stderr line with it."""
    watch = ""
    if marker:
        watch = (
            "import sys, io\n_real = sys.stderr\n"
            "class _W(io.TextIOBase):\n"
            "    def write(self, s):\n"
            f"        if {marker!r} in s and 'startup_s' not in out: out['startup_s'] = round(time.perf_counter() - _t0, 2)\n"
            "        return _real.write(s)\n"
            "    def flush(self): _real.flush()\n"
            "sys.stderr = _W()\n"
        )
    return _py(
        watch + "import contextlib, io\nfrom ecgqa_tools.cli import main\n_buf = io.StringIO()\n"
        f"with contextlib.redirect_stdout(_buf):\n    out['exit_code'] = main({argv!r})\n"
        "out['stdout_tail'] = _buf.getvalue().strip().splitlines()[-3:]\n"
    )


def _load_body(root: Path, dataset: str, kind: str, split: str) -> str:
    """``load_ecgqa`` of one split, timed without the imports: wall and CPU per sample."""
    return (
        "from ecgqa_tools.qa import load_ecgqa\nimport resource\n"
        "_c1 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]); _t1 = time.perf_counter()\n"
        f"s = load_ecgqa({str(root)!r}, {dataset!r}, {kind!r}, {split!r})\n"
        "_w = time.perf_counter() - _t1; _c = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - _c1\n"
        "out.update(samples=len(s), chunks=len(s.chunks_found), missing=len(s.chunks_missing), load_s=round(_w, 2),\n"
        "           load_cpu_s=round(_c, 2), us_per_sample=round(1e6 * _w / len(s), 2),\n"
        "           cpu_us_per_sample=round(1e6 * _c / len(s), 2))"
    )


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    qa, ptbxl, mimic, huge = root / "ecg-qa", root / "ptb-xl", root / "mimic-iv-ecg", root / "huge"
    steps: list[tuple[str, str]] = [("load_ecgqa one chunk (ptbxl/template/train/00000)", _py(
        _load_body(root / "one-chunk", "ptbxl", "template", "train")))]
    for dataset in ("ptbxl", "mimic-iv-ecg"):
        for kind in ("template", "paraphrased"):
            for split in ("train", "valid", "test"):
                steps.append((f"load_ecgqa {dataset}/{kind}/{split}", _py(_load_body(qa, dataset, kind, split))))
    steps.append(("ecgqa qa load --dataset mimic-iv-ecg (all kinds and splits)", _cli(
        ["qa", "load", "--ecgqa", str(qa), "--dataset", "mimic-iv-ecg"])))
    steps.append(("ptbxl present_ids 100+500 Hz", _py(
        "from ecgqa_tools.records import PtbXl\n"
        f"p = PtbXl({str(ptbxl)!r}); _ = p.metadata; out['metadata_s'] = round(time.perf_counter() - _t0, 2)\n"
        "_t1 = time.perf_counter(); out['present_100'] = len(p.present_ids(100)); out['present_100_s'] = round(time.perf_counter() - _t1, 2)\n"
        "_t1 = time.perf_counter(); out['present_500'] = len(p.present_ids(500)); out['present_500_s'] = round(time.perf_counter() - _t1, 2)\n"
        "_t1 = time.perf_counter(); e = p.read(21837, 500); out['read_one_s'] = round(time.perf_counter() - _t1, 3)")))
    steps.append(("ecgqa data check --ptbxl", _cli(["data", "check", "--ptbxl", str(ptbxl)])))
    steps.append(("attributes_from_ptbxl all records", _py(
        "from ecgqa_tools.qa import attributes_from_ptbxl\nfrom ecgqa_tools.records import PtbXl\n"
        f"p = PtbXl({str(ptbxl)!r}); _ = p.metadata; _t1 = time.perf_counter()\n"
        "a = attributes_from_ptbxl(p); out['records'] = len(a); out['attributes_s'] = round(time.perf_counter() - _t1, 2)\n"
        "out['ms_per_record'] = round(1e3 * (time.perf_counter() - _t1) / len(a), 3)")))
    steps.append(("ecgqa qa map ptbxl template all splits", _cli(
        ["qa", "map", "--ecgqa", str(qa), "--dataset", "ptbxl", "--kind", "template", "--ptbxl", str(ptbxl),
         "--fs", "500", "--list-absent", "0", "--parquet", str(root / "runs" / "ptbxl_template.parquet")])))
    steps.append(("ecgqa qa verify (all PTB-XL template samples)", _cli(
        ["qa", "verify", "--ptbxl", str(ptbxl), "--ecgqa", str(qa), "--show", "0"])))
    steps.append(("mimic metadata + present_ids", _py(
        "from ecgqa_tools.records import MimicIvEcg\n"
        f"m = MimicIvEcg({str(mimic)!r}); out['listed'] = len(m.metadata); out['metadata_s'] = round(time.perf_counter() - _t0, 2)\n"
        "_t1 = time.perf_counter(); out['present'] = len(m.present_ids()); out['present_s'] = round(time.perf_counter() - _t1, 2)\n"
        "_t1 = time.perf_counter(); e = m.read(sorted(m.present_ids())[0]); out['read_one_s'] = round(time.perf_counter() - _t1, 3)")))
    if (root / "mimic-walk" / "record_list.csv").is_file():
        steps.append(("mimic-walk: present_ids and present_among(1/4) with every listed study present", _py(
            "from ecgqa_tools.records import MimicIvEcg\nimport resource\n"
            f"m = MimicIvEcg({str(root / 'mimic-walk')!r}); out['listed'] = len(m.metadata)\n"
            "_c = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])\n"
            "ids = list(m.metadata.index)[::4]; c1 = _c(); t1 = time.perf_counter()\n"
            "out['present_among'] = len(m.present_among(ids)); out['present_among_s'] = round(time.perf_counter() - t1, 2)\n"
            "out['present_among_cpu_s'] = round(_c() - c1, 2); c1 = _c(); t1 = time.perf_counter()\n"
            "out['present'] = len(m.present_ids()); out['present_s'] = round(time.perf_counter() - t1, 2)\n"
            "out['present_cpu_s'] = round(_c() - c1, 2)")))
    steps.append(("ecgqa data check --mimic", _cli(["data", "check", "--mimic", str(mimic)])))
    steps.append(("ecgqa qa map mimic template test", _cli(
        ["qa", "map", "--ecgqa", str(qa), "--dataset", "mimic-iv-ecg", "--kind", "template", "--split", "test",
         "--mimic", str(mimic), "--list-absent", "0"])))
    bench_out = root / "runs" / "bench_oracle"
    steps.append(("ecgqa bench ecgqa oracle --sample 0.0005", _cli(
        ["bench", "ecgqa", "--ecgqa", str(qa), "--ptbxl", str(ptbxl), "--dataset", "ptbxl", "--kind", "template",
         "--split", "test", "--systems", "oracle", "--sample", "0.0005", "--fs", "100", "--out", str(bench_out),
         "--report", str(bench_out / "report.md"), "--fresh", "--no-progress"], marker="samples selected")))
    for name in ("claims", "big"):
        steps.append((f"read_record huge/{name}", _py(
            "from ecgqa_tools.records import read_record\nfrom ecgqa_tools.errors import EcgqaError\n"
            f"try:\n    read_record({str(huge / (name + '.hea'))!r}); out['result'] = 'read'\n"
            "except EcgqaError as exc:\n    out['result'] = type(exc).__name__ + ': ' + str(exc)[:300]")))
        steps.append((f"ecgqa ask huge/{name}", _cli(
            ["ask", str(huge / (name + ".hea")), "Does this ECG show atrial fibrillation?"])))
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    results = []
    for name, code in steps:
        if only and not any(o in name for o in only):
            continue
        results.append(_measure(name, code, root))
    if args.json:
        meta = {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
                "load_average": os.getloadavg(), "root": str(root)}
        Path(args.json).write_text(json.dumps({"meta": meta, "steps": results}, indent=1))
    return 0


def table(args: argparse.Namespace) -> int:
    """A Markdown table of a ``run --json`` file: wall, CPU and peak RSS per step."""
    data = json.loads(Path(args.json).read_text())
    print(f"{data['meta']['date_utc']}, {data['meta']['cpus']} CPUs, load average at the end "
          f"{', '.join(f'{x:.1f}' for x in data['meta']['load_average'])}\n")
    print("| step | wall s | CPU s | peak RSS GB | what it did |\n|---|---|---|---|---|")
    skip = {"step", "wall_s", "cpu_s", "peak_rss_gb", "exit", "exit_code", "opened", "folders_listed", "stdout_tail",
            "inner_s"}
    for r in data["steps"]:
        detail = ", ".join(f"{k} {v}" for k, v in r.items() if k not in skip and k != "stderr")
        opened = r.get("opened", {})
        files = ", ".join(f"{n} {k}" if not k.startswith("json:") else f"{n} in {k[5:]}/" for k, n in opened.items()
                          if k != "json")
        detail += f"; opened {files or 'nothing'}, listed {r.get('folders_listed', 0)} folders"
        if r.get("exit_code") not in (None, 0):
            detail += f"; exit {r['exit_code']}"
        print(f"| {r['step']} | {r['wall_s']} | {r.get('cpu_s', '')} | {r.get('peak_rss_gb', '')} | {detail} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the synthetic full-size trees")
    b.add_argument("--data", required=True, help="the real partial data folder (../shared/data)")
    b.add_argument("--root", default="/tmp/scale")
    b.add_argument("--mimic-rows", type=int, default=800_000)
    b.add_argument("--mimic-present", type=int, default=3_000)
    b.add_argument("--mimic-placeholders", type=int, default=100_000,
                   help="studies of mimic-walk/, all with (empty) files, to time a full walk (0: skip)")
    r = sub.add_parser("run", help="measure every step in a fresh process")
    r.add_argument("--root", default="/tmp/scale")
    r.add_argument("--json", help="write all results here")
    r.add_argument("--only", help="comma-separated substrings of step names to run")
    t = sub.add_parser("table", help="Markdown table of a run --json file")
    t.add_argument("json")
    args = parser.parse_args()
    if args.command == "table":
        return table(args)
    if args.command == "build":
        build(args)
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
