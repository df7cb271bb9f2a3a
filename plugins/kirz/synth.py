"""A synthetic KI-Rechenzentrum Leipzig, written in the real input formats.

:func:`synthesize` fills a landing folder with everything the centre delivers: Slurm accounting
(``sacct --parsable2`` and ``sacct --json``), node power (CSV and Prometheus ``query_range``
JSON), facility meters (kWh registers as CSV and as the German building-management export;
water registers and temperatures as ``timestamp,meter_id,value`` CSV), the inventory, one YAML
file per partner contract and the certificate ledger of each year (``certificates/<year>.yaml``).
GPU metrics come as the DCGM exporter's series in ``query_range`` JSON (``gpu/dcgm-<day>.json``):
the GPUs a job holds show its load, idle GPUs read near zero.
The facility has on-site PV with some grid export, heat reuse with the temperature of the heat
delivered, and water intake; the ledger's guarantees of origin and PPA cover part of E_DC, so
the renewable share stays below the EnEfG's 50 %. The sources agree with each other the way real ones do: jobs
come from an event-driven scheduler that never over-allocates a node, node power follows the
jobs on each node, and the meters integrate that power. Deliberate real-world quirks (the
repeated hour at the end of summer time, a counter reset, a data gap, duplicates, an account
without a contract) are put in on purpose and listed in the manifest, which also counts every
row written, so an ingest can be checked for losing or inventing nothing.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import time as _time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import yaml

from kirz.hostlist import compress

UTC = timezone.utc

SACCT_FIELDS = (
    "JobID", "JobIDRaw", "JobName", "User", "Account", "Partition", "QOS", "State", "ExitCode",
    "Submit", "Start", "End", "Elapsed", "ElapsedRaw", "NNodes", "NCPUS", "AllocTRES", "NodeList",
    "ConsumedEnergyRaw",
)

GPU_NODE = {"partition": "gpu", "gpus": 8, "gpu_model": "h100", "cpus": 128, "idle_w": 1200.0, "max_w": 10500.0}
CPU_NODE = {"partition": "cpu", "gpus": 0, "gpu_model": None, "cpus": 256, "idle_w": 250.0, "max_w": 900.0}
GPU_MEM_G = {1: 60, 2: 120, 4: 250, 8: 500}   # memory per node by GPUs on it
CPU_MEM_MB_PER_CORE = 3900
GPUS_PER_RACK = 8

# kWh registers (meters CSV and building export)
METERS = (
    {"id": "M-GRID", "kind": "grid_intake"},
    {"id": "M-IT", "kind": "it", "parent": "M-GRID", "pue_category": 1},
    {"id": "M-COOL", "kind": "cooling", "parent": "M-GRID"},
    {"id": "M-OTHER", "kind": "other", "parent": "M-GRID"},
    {"id": "M-HEAT", "kind": "heat_reuse"},
    {"id": "M-PV", "kind": "onsite_generation"},
    {"id": "M-EXPORT", "kind": "grid_export"},
    {"id": "M-HEATRM", "kind": "heat_removed"},
    {"id": "M-HEATREL", "kind": "heat_released"},
)
METER_START_KWH = {
    "M-GRID": 4812345.6, "M-IT": 3901220.4, "M-COOL": 612004.9,
    "M-OTHER": 188370.2, "M-HEAT": 702118.0, "M-PV": 455912.3,
    "M-EXPORT": 21877.4, "M-HEATRM": 3790511.8, "M-HEATREL": 3088393.1,
}
# meters read in m3 and degC (the values CSV): water registers and the temperatures of the heat
# delivered for reuse and of the heat released
VALUE_METERS = (
    {"id": "M-WATER", "kind": "water_intake", "potable": True},
    {"id": "M-WELL", "kind": "water_intake", "potable": False},
    {"id": "M-HEAT-T", "kind": "temperature", "of": "M-HEAT"},
    {"id": "M-HEATREL-T", "kind": "temperature", "of": "M-HEATREL"},
)
WATER_START_M3 = {"M-WATER": 15204.25, "M-WELL": 40311.5}
WATER_L_PER_IT_KWH = {"M-WATER": 0.12, "M-WELL": 0.30}   # cooling make-up water
EXPORT_SHARE = 0.10           # share of the PV output fed into the grid
HEAT_REMOVED_SHARE = 0.98     # heat the cooling removes, of the IT energy
# the certificate ledger of a year: guarantees of origin and a PPA as shares of the year's E_DC,
# plus the PV meter (up to about 12 % of E_DC): the renewable share stays below the 50 % of EnEfG § 11 (5)
LEDGER_GOO_SHARE = 0.25
LEDGER_PPA_SHARE = 0.10
# the facility's master data, as in DESIGN.md's inventory example (commissioned_on: the first day)
FACILITY = {
    "floor_area_m2": 1000,
    "design_it_power_kw": 3000,
    "name": "KI-Rechenzentrum Leipzig",
    "operator": "Universität Leipzig",
    "owner": "Freistaat Sachsen",
    "contact": "energie-rz@example.org",
    "postcode": "04109",
    "lau_code": "14713000",
    "nuts3": "DED51",
    "dc_type": "enterprise",
    "commissioned_on": None,        # the first synthetic day
    "building_area_m2": 2400,
    "rated_connection_kw": 4500,
    "non_redundant_connection_kw": 3600,
    "it_intake_setpoint_c": 27,
}
IT_OVERHEAD = 0.03            # network and storage on the IT meter beside the nodes
PUE_LOW, PUE_HIGH = 1.15, 1.40
METER_SLOT_S = 900

LOST_ACCOUNT = "lost-acct"
EXPORT_RELEASE = ("24", "05", "4")

# Submissions per local hour (relative) and per weekday (Mon..Sun).
HOUR_WEIGHT = np.array([
    0.30, 0.25, 0.20, 0.20, 0.20, 0.25, 0.40, 0.70, 1.10, 1.50, 1.70, 1.70,
    1.50, 1.60, 1.70, 1.60, 1.40, 1.20, 1.00, 0.90, 0.80, 0.70, 0.50, 0.40,
])
WEEKDAY_WEIGHT = np.array([1.15, 1.15, 1.15, 1.15, 1.10, 0.60, 0.55])
ALLOCS_PER_56_NODES_PER_DAY = 1500

GPU_SIZES = (1, 2, 4, 8, 0)   # 0 = several full nodes
GPU_MEDIAN_MIN = (12.0, 17.5, 26.0, 44.0, 70.0)
CPU_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CPU_SIZE_P = (0.10, 0.10, 0.15, 0.20, 0.15, 0.12, 0.10, 0.05, 0.03)
CPU_MEDIAN_MIN = 100.0
LIMITS_MIN = (30, 60, 120, 240, 480, 720, 1440, 2880)
SIGMA = 1.2

# area -> (P(cpu partition), P(gpu size 1,2,4,8,multi), duration factor)
AREA_PROFILE = {
    "methods_research": (0.25, (0.50, 0.17, 0.14, 0.14, 0.05), 1.0),
    "cooperation": (0.15, (0.45, 0.18, 0.15, 0.16, 0.06), 1.0),
    "education": (0.40, (0.85, 0.10, 0.05, 0.0, 0.0), 1.0),
    "operations": (0.50, (0.70, 0.0, 0.0, 0.30, 0.0), 0.2),
    "unassigned": (0.30, (0.60, 0.20, 0.20, 0.0, 0.0), 0.8),
}
JOB_NAMES = {
    "methods_research": ("train_llm", "pretrain-7b", "ablation", "eval_suite", "vit-base", "diffusion-train",
                         "rl_agent", "graph-nn", "tokenize", "data_prep", "bench", "jupyter"),
    "cooperation": ("finetune", "infer_batch", "vllm-serve", "forecast", "qc-vision", "sim_surrogate",
                    "embed", "retrain", "etl", "train"),
    "education": ("uebung01", "uebung02", "mnist", "resnet18", "projekt", "jupyter", "bash", "notebook"),
    "operations": ("nhc-check", "gpu-burn", "nccl-test", "fs-scrub", "dcgm-diag"),
    "unassigned": ("train", "test", "run"),
}
ARRAY_NAMES = ("hp-sweep", "cv-fold", "seed-sweep", "param-scan")
STEP_PROGRAMS = ("python", "torchrun", "apptainer", "bash", "julia")

# States of jobs that run: state, exit code, P
END_STATES = (
    ("COMPLETED", "0:0", 0.80),
    ("FAILED", "1:0", 0.09),
    ("OUT_OF_MEMORY", "0:125", 0.025),
    ("TIMEOUT", "0:0", 0.03),
    ("CANCELLED", "0:0", 0.055),
)
BLOCKER_WAIT_S = 3600        # a job waiting this long gets nodes held back for it
HELD_FRACTION = 0.01          # jobs with a dependency that are cancelled before they start
ARRAY_FRACTION = 0.01
ARRAY_TASKS = (4, 17)         # tasks per array, [low, high)

# ---------------------------------------------------------------------------------------------
# YAML as the documented examples write it


class _Quoted(str):
    """A string YAML must keep as a string (postcodes: ``04109`` is an integer to YAML 1.2)."""


class _Dumper(yaml.SafeDumper):
    pass


class _Flow(dict):
    """A mapping written on one line, as in the documented examples."""


_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"'))
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def _write_yaml(path: Path, doc: dict) -> None:
    path.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None,
                              width=200), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# partners and contracts


@dataclass(frozen=True)
class Partner:
    pid: str
    name: str
    type: str
    postcode: str
    nuts3: str
    confidential: bool
    area: str
    accounts: tuple[tuple[str, float, int], ...]  # (account, relative demand, users)
    funders: tuple[str, ...]
    gpu_hours: int
    price: float
    jobs_created: int = 0
    trainees: int = 0
    special: str = ""          # amend_accounts | amend_price | new_contract | old_amendment
    group: str = ""            # single undertaking (linked enterprises) for de-minimis
    other_deminimis_eur: float = 0.0  # de-minimis aid declared from elsewhere


PARTNERS: tuple[Partner, ...] = (
    # methods_research: universities
    Partner("P-0001", "Pleiße-Universität Leipzig", "university", "04109", "DED51", False, "methods_research",
            (("plu-nlp", 3.0, 9), ("plu-vision", 2.5, 7)), ("bund-strukturwandel", "freistaat-sachsen"),
            120000, 0.0),
    Partner("P-0002", "Saale-Universität Halle", "university", "06108", "DEE02", False, "methods_research",
            (("suh-ml", 2.5, 8),), ("bund-strukturwandel",), 80000, 0.0),
    Partner("P-0003", "Technische Universität Elbflorenz", "university", "01069", "DED21", False,
            "methods_research", (("tue-robot", 1.5, 5),), ("freistaat-sachsen",), 40000, 0.10),
    Partner("P-0004", "Humboldthain-Universität Berlin", "university", "10115", "DE300", False,
            "methods_research", (("hub-llm", 1.2, 4),), ("bund-strukturwandel",), 30000, 0.25),
    Partner("P-0005", "Hochschule Geiseltal", "university", "06217", "DEE0B", False, "methods_research",
            (("hsg-ai", 1.0, 6),), ("bund-strukturwandel", "eu-jtf"), 15000, 0.0),
    Partner("P-0006", "Ludwig-Isar-Universität München", "university", "80539", "DE212", False,
            "methods_research", (("liu-theory", 0.8, 3),), ("bund-strukturwandel",), 12000, 0.40),
    # methods_research: research institutes
    Partner("P-0007", "Institut für Lernende Systeme Leipzig", "research_institute", "04318", "DED51", False,
            "methods_research", (("ils-core", 2.5, 8), ("ils-bio", 1.0, 4)), ("freistaat-sachsen",),
            90000, 0.0),
    Partner("P-0008", "Forschungszentrum Mitteldeutsche Energie Zeitz", "research_institute", "06712", "DEE08",
            False, "methods_research", (("fme-grid", 1.5, 5),), ("bund-strukturwandel", "eu-jtf"),
            8000, 0.40, special="amend_price"),
    Partner("P-0009", "Zentrum für Rheinische Datenwissenschaft", "research_institute", "50667", "DEA23", False,
            "methods_research", (("zrd-climate", 1.0, 4),), ("bund-strukturwandel",), 20000, 0.30),
    Partner("P-0010", "Institut für Bergbaufolgelandschaften Borna", "research_institute", "04552", "DED52",
            False, "methods_research", (("ibf-geo", 0.8, 3),), ("eu-jtf",), 10000, 0.0),
    Partner("P-0011", "Forschungsinstitut Agrarsensorik Köthen", "research_institute", "06366", "DEE05", False,
            "methods_research", (("fak-agri", 0.7, 3),), ("eu-jtf", "freistaat-sachsen"), 9000, 0.0),
    # cooperation: SMEs
    Partner("P-0012", "Muster Robotik GmbH", "sme", "04109", "DED51", False, "cooperation",
            (("mrob-ai", 1.5, 4),), ("bund-strukturwandel",), 20000, 1.20, jobs_created=3,
            special="amend_accounts", group="G-MUSTER", other_deminimis_eur=40000),
    Partner("P-0013", "Bitterfelder Prozessanalytik GmbH", "sme", "06749", "DEE05", True, "cooperation",
            (("bpa-proc", 1.0, 3),), ("bund-strukturwandel", "eu-jtf"), 12000, 1.20, jobs_created=2),
    Partner("P-0014", "Sangerhäuser Sensorik GmbH", "sme", "06526", "DEE0A", True, "cooperation",
            (("sss-vision", 0.8, 2),), ("eu-jtf",), 8000, 1.10, jobs_created=1),
    Partner("P-0015", "Delitzscher Datenwerk GmbH", "sme", "04509", "DED53", True, "cooperation",
            (("ddw-forecast", 0.9, 3),), ("bund-strukturwandel",), 10000, 1.20, jobs_created=2),
    Partner("P-0016", "Altenburger Textil-KI GmbH", "sme", "04600", "DEG0M", False, "cooperation",
            (("atk-qc", 0.6, 2),), ("eu-jtf",), 6000, 1.00, jobs_created=1),
    Partner("P-0017", "Spreeblick Analytics GmbH", "sme", "10997", "DE300", False, "cooperation",
            (("sba-nlp", 0.7, 3),), ("bund-strukturwandel",), 9000, 1.80),
    Partner("P-0018", "Naumburger Weinbau-Informatik GmbH", "sme", "06618", "DEE08", False, "cooperation",
            (("nwi-agri", 0.5, 2),), ("eu-jtf", "freistaat-sachsen"), 4000, 1.00, jobs_created=1),
    # cooperation: large enterprises
    Partner("P-0019", "Mitteldeutsche Chemiewerke AG", "large_enterprise", "06237", "DEE0B", True,
            "cooperation", (("mcw-sim", 1.6, 5),), ("bund-strukturwandel",), 40000, 2.50, jobs_created=4,
            special="old_amendment"),
    Partner("P-0020", "Leipziger Fahrzeugbau AG", "large_enterprise", "04158", "DED51", False, "cooperation",
            (("lfb-drive", 1.4, 4),), ("bund-strukturwandel", "freistaat-sachsen"), 35000, 2.50,
            jobs_created=5),
    Partner("P-0021", "Isar Versicherungsgruppe AG", "large_enterprise", "80331", "DE212", False,
            "cooperation", (("ivg-risk", 0.8, 3),), ("bund-strukturwandel",), 15000, 2.50),
    # cooperation: start-ups
    Partner("P-0022", "Auenwald AI UG", "startup", "04105", "DED51", False, "cooperation",
            (("auen-llm", 0.9, 2),), ("bund-strukturwandel",), 8000, 0.60, jobs_created=2, group="G-MUSTER"),
    Partner("P-0023", "Hallesche Sprachmodelle GmbH", "startup", "06110", "DEE02", False, "cooperation",
            (("hsm-chat", 0.8, 3),), ("eu-jtf",), 7000, 0.75, jobs_created=3),
    Partner("P-0024", "Markkleeberg Vision Labs GmbH", "startup", "04416", "DED52", False, "cooperation",
            (("mvl-drone", 0.8, 2),), ("bund-strukturwandel", "eu-jtf"), 5000, 0.90, jobs_created=2,
            special="new_contract"),
    Partner("P-0025", "Domstadt Quantum GmbH", "startup", "50667", "DEA23", False, "cooperation",
            (("dq-qml", 0.4, 2),), ("bund-strukturwandel",), 3000, 0.90),
    # education
    Partner("P-0001", "Pleiße-Universität Leipzig", "university", "04109", "DED51", False, "education",
            (("plu-kurs-dl", 2.0, 40),), ("freistaat-sachsen",), 15000, 0.0, trainees=40),
    Partner("P-0026", "Berufliches Schulzentrum Informationstechnik Leipzig-Nord", "education_provider",
            "04129", "DED51", False, "education", (("bsz-fisi", 1.5, 30),), ("freistaat-sachsen", "eu-jtf"),
            6000, 0.0, trainees=30),
    Partner("P-0027", "Weiterbildungsakademie Mitteldeutschland gGmbH", "education_provider", "06114", "DEE02",
            False, "education", (("wam-kikurs", 1.2, 24),), ("eu-jtf",), 5000, 0.25, trainees=24),
    Partner("P-0028", "KI-Campus Eilenburg e.V.", "education_provider", "04838", "DED53", False, "education",
            (("kce-lab", 0.8, 16),), ("bund-strukturwandel",), 3000, 0.0, trainees=16),
    Partner("P-0029", "Dresdner Akademie für Datenberufe", "education_provider", "01067", "DED21", False,
            "education", (("dad-train", 0.6, 12),), ("freistaat-sachsen",), 2500, 0.0, trainees=12),
    # operations
    Partner("P-0030", "KI-Rechenzentrum Leipzig (Betrieb)", "public_administration", "04109", "DED51", False,
            "operations", (("ops-test", 0.5, 3), ("ops-maint", 0.2, 2)), ("freistaat-sachsen",), 0, 0.0),
)
AMENDED_ACCOUNT = "mrob-edu"
LOST_ACCOUNT_WEIGHT = 0.25


def build_contracts(start: date, days: int) -> list[dict]:
    """The contract documents (as the YAML files hold them) for a period of ``days`` from ``start``.

    Dates are set relative to the period so that the amendments and the new contract fall inside
    it whatever the start; everything else is fixed, so that contracts do not depend on the seed.
    The large enterprises' cooperation contracts buy compute as a service (economic activity);
    the collaborative research projects of SMEs and start-ups and all other contracts are
    non-economic. Each is signed 14 to 41 days before it starts.
    """
    end = start + timedelta(days=days - 1)
    mid = start + timedelta(days=days // 2)
    third = min(end, start + timedelta(days=max(1, days // 3)))
    year_from = date(start.year, 1, 1)
    year_to = date(end.year, 12, 31)
    docs = []
    seq: dict[int, int] = {}
    for i, p in enumerate(PARTNERS):
        valid_from, valid_to = year_from, year_to
        amendments: list[dict] = []
        if p.special == "new_contract":
            valid_from = mid
            valid_to = date(mid.year + 1, mid.month, 1) - timedelta(days=1)
        elif p.special == "old_amendment":
            valid_from = date(start.year - 1, 1, 1)
            valid_to = date(end.year + 1, 12, 31)
            amendments.append({"effective_from": date(start.year - 1, 7, 1), "gpu_hours_allocated": p.gpu_hours + 20000})
        elif p.special == "amend_accounts":
            amendments.append({
                "effective_from": mid,
                "gpu_hours_allocated": p.gpu_hours + 10000,
                "accounts": [a for a, _, _ in p.accounts] + [AMENDED_ACCOUNT],
            })
        elif p.special == "amend_price":
            amendments.append({
                "effective_from": third,
                "gpu_hours_allocated": p.gpu_hours + 4000,
                "price_eur_per_gpu_hour": round(p.price + 0.15, 2),
            })
        n = seq.get(valid_from.year, 0) + 1
        seq[valid_from.year] = n
        partner = _Flow(id=p.pid, name=p.name, type=p.type, postcode=_Quoted(p.postcode), nuts3=p.nuts3,
                        confidential=p.confidential)
        if p.group:
            partner["group"] = p.group
        doc = {
            "contract_id": f"C-{valid_from.year}-{n:03d}",
            "partner": partner,
            "usage_area": p.area,
            "activity": "economic" if p.area == "cooperation" and p.type == "large_enterprise" else "non_economic",
            "signed_on": valid_from - timedelta(days=14 + 3 * (i % 10)),
        }
        if p.other_deminimis_eur:
            doc["other_deminimis_eur"] = int(p.other_deminimis_eur)
        docs.append({
            **doc,
            "funders": list(p.funders),
            "accounts": [a for a, _, _ in p.accounts],
            "valid_from": valid_from,
            "valid_to": valid_to,
            "gpu_hours_allocated": p.gpu_hours,
            "price_eur_per_gpu_hour": p.price,
            "commitments": _Flow(jobs_created=p.jobs_created, trainees=p.trainees),
            "amendments": [_Flow(a) for a in amendments],
        })
    return docs


# ---------------------------------------------------------------------------------------------
# nodes


@dataclass(frozen=True)
class NodeSpec:
    name: str
    partition: str
    rack: str
    gpus: int
    cpus: int
    idle_w: float
    max_w: float
    gpu_model: str | None = None


def plan_nodes(nodes: int) -> list[NodeSpec]:
    """GPU nodes first (about 6/7, ``gpu001``...), then CPU nodes (``cpu01``...)."""
    if nodes < 2:
        raise ValueError("nodes must be at least 2 (one GPU and one CPU node)")
    n_gpu = min(nodes - 1, max(1, round(nodes * 6 / 7)))
    n_cpu = nodes - n_gpu
    gw = max(3, len(str(n_gpu)))
    cw = max(2, len(str(n_cpu)))
    out = []
    for i in range(n_gpu):
        out.append(NodeSpec(f"gpu{i + 1:0{gw}d}", "gpu", f"R{i // GPUS_PER_RACK + 1:02d}", GPU_NODE["gpus"],
                            GPU_NODE["cpus"], GPU_NODE["idle_w"], GPU_NODE["max_w"], GPU_NODE["gpu_model"]))
    cpu_rack = f"R{(n_gpu - 1) // GPUS_PER_RACK + 2:02d}"
    for i in range(n_cpu):
        out.append(NodeSpec(f"cpu{i + 1:0{cw}d}", "cpu", cpu_rack, CPU_NODE["gpus"], CPU_NODE["cpus"],
                            CPU_NODE["idle_w"], CPU_NODE["max_w"], CPU_NODE["gpu_model"]))
    return out


def _inventory_doc(specs: list[NodeSpec], start: date) -> dict:
    groups: list[tuple[tuple, list[str]]] = []
    for s in specs:
        key = (s.partition, s.rack, s.gpus, s.gpu_model, s.cpus, s.idle_w, s.max_w)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(s.name)
        else:
            groups.append((key, [s.name]))
    nodes = []
    for (partition, rack, gpus, gpu_model, cpus, idle_w, max_w), names in groups:
        entry = _Flow(name=compress(names), partition=partition, rack=rack, gpus=gpus)
        if gpu_model is not None:
            entry["gpu_model"] = gpu_model
        entry.update(cpus=cpus, idle_w=int(idle_w), max_w=int(max_w))
        nodes.append(entry)
    facility = {
        k: start if k == "commissioned_on" else _Quoted(v) if k in ("postcode", "lau_code") else v
        for k, v in FACILITY.items()
    }
    return {
        "cluster": "kirz-leipzig",
        "facility": facility,
        "nodes": nodes,
        "meters": [_Flow(m) for m in METERS + VALUE_METERS],
    }


# ---------------------------------------------------------------------------------------------
# local time


class _Clock:
    """Epoch seconds <-> local wall-clock text, fast, with the zone's offset changes in the range."""

    def __init__(self, tz: ZoneInfo, lo: int, hi: int):
        self.tz = tz
        self.bounds = [lo]
        self.offsets = [self._off(lo)]
        self.transitions: list[tuple[int, int, int]] = []  # (utc epoch, offset before, offset after)
        t = lo
        while t < hi:
            t2 = t + 3600
            if self._off(t2) != self._off(t):
                a, b = t, t2
                while b - a > 1:
                    m = (a + b) // 2
                    if self._off(m) == self._off(a):
                        a = m
                    else:
                        b = m
                self.transitions.append((b, self._off(a), self._off(b)))
                self.bounds.append(b)
                self.offsets.append(self._off(b))
            t = t2

    def _off(self, t: int) -> int:
        return int(datetime.fromtimestamp(t, self.tz).utcoffset().total_seconds())

    def offset(self, t: int) -> int:
        return self.offsets[bisect.bisect_right(self.bounds, t) - 1]

    def local(self, t: int, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
        return _time.strftime(fmt, _time.gmtime(t + self.offset(t)))

    def local_hour(self, t: int) -> float:
        return ((t + self.offset(t)) % 86400) / 3600.0

    def local_weekday(self, t: int) -> int:
        return (((t + self.offset(t)) // 86400) + 3) % 7  # 1970-01-01 was a Thursday


def _midnight_utc(d: date, tz: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


# ---------------------------------------------------------------------------------------------
# jobs and the scheduler


class _Job:
    __slots__ = (
        "seq", "raw", "array_id", "task", "het_id", "het_off", "het_peer", "name", "user", "account",
        "area", "partition", "qos", "unit_per_node", "nnodes", "gpus", "cpus", "submit", "start",
        "end", "dur", "limit_min", "state", "exit", "cancel_uid", "nodes", "load", "held", "cancel_at",
        "pin_node", "extra_step", "program", "pending_reason",
    )

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


@dataclass
class _Account:
    name: str
    area: str
    weight: float
    users: list[str]
    active_from: int        # epoch: jobs are submitted only from here on


class _Cluster:
    """Free GPUs (GPU nodes) or CPUs (CPU nodes) per node, with an optional reservation."""

    def __init__(self, specs: list[NodeSpec]):
        self.specs = specs
        self.n_gpu = sum(1 for s in specs if s.partition == "gpu")
        self.range = {"gpu": (0, self.n_gpu), "cpu": (self.n_gpu, len(specs))}
        self.cap = {"gpu": GPU_NODE["gpus"], "cpu": CPU_NODE["cpus"]}
        self.free = np.array([s.gpus if s.partition == "gpu" else s.cpus for s in specs], dtype=np.int64)
        self.maxfree = {p: self.cap[p] for p in self.range}
        self.reservations: list[tuple[int, int, int, int]] = []  # node, units, t0, t1
        self.running: list[set] = [set() for _ in specs]

    def _refresh(self, part: str) -> None:
        lo, hi = self.range[part]
        self.maxfree[part] = int(self.free[lo:hi].max())

    def fit(self, part: str, r: int, k: int, t: int, e: int, exclude: np.ndarray | None) -> list[int] | None:
        """Nodes for ``k`` x ``r`` units over [t, e): best fit for one node, a contiguous run of free
        nodes for several; nodes marked in ``exclude`` (held for a waiting job) are not offered."""
        lo, hi = self.range[part]
        cap = self.cap[part]
        free = self.free[lo:hi]
        eff = free
        for node, units, t0, t1 in self.reservations:
            if lo <= node < hi and t0 < e and t1 > t:
                if eff is free:
                    eff = free.copy()
                eff[node - lo] -= units
        if k == 1:
            ok = eff >= r
            if exclude is not None:
                ok &= ~exclude
            score = np.where(ok, eff, cap + 1)
            best = int(score.argmin())
            return [lo + best] if score[best] <= cap else None
        full_mask = eff == cap
        if exclude is not None:
            full_mask &= ~exclude
        full = np.flatnonzero(full_mask)
        if full.size < k:
            return None
        for i in range(full.size - k + 1):
            if full[i + k - 1] - full[i] == k - 1:
                return [lo + int(x) for x in full[i:i + k]]
        return [lo + int(x) for x in full[:k]]

    def reserved(self, part: str, t: int, e: int) -> bool:
        if not self.reservations:
            return False
        lo, hi = self.range[part]
        return any(lo <= node < hi and t0 < e and t1 > t for node, _, t0, t1 in self.reservations)

    def hold_for(self, part: str, r: int, k: int, t: int) -> tuple[int, np.ndarray]:
        """A reservation for a job that has waited too long (EASY backfill): the ``k`` nodes on
        which ``r`` units free up first, and the time they are all free (the running jobs' ends
        are known here). Other jobs may use these nodes only if they end by then."""
        lo, hi = self.range[part]
        ready = np.empty(hi - lo, dtype=np.int64)
        for i in range(hi - lo):
            free = int(self.free[lo + i])
            when = t
            if free < r:
                when = 1 << 62
                for end, units in sorted((j.end, j.unit_per_node) for j in self.running[lo + i]):
                    free += units
                    if free >= r:
                        when = max(t, end)
                        break
            ready[i] = when
        order = np.argsort(ready, kind="stable")[:k]
        mask = np.zeros(hi - lo, dtype=bool)
        mask[order] = True
        return int(ready[order].max()), mask

    def take(self, part: str, nodes: list[int], r: int, job=None) -> None:
        for n in nodes:
            self.running[n].add(job)
            self.free[n] -= r
            if self.free[n] < 0:
                raise AssertionError(f"node {self.specs[n].name} over-allocated")
        self._refresh(part)

    def give(self, part: str, nodes: list[int], r: int, job=None) -> None:
        for n in nodes:
            self.running[n].discard(job)
            self.free[n] += r
        self._refresh(part)


def _pick(rng, cum: np.ndarray) -> int:
    """Index drawn with probabilities proportional to the steps of the cumulative weights ``cum``."""
    return int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))


_STATE_CUM = np.cumsum([s[2] for s in END_STATES])
_CPU_SIZE_CUM = np.cumsum(CPU_SIZE_P)


def _draw_duration(rng, median_min: float) -> int:
    return int(np.clip(rng.lognormal(math.log(median_min * 60.0), SIGMA), 30, 2880 * 60 - 120))


class _Workload:
    """Submissions over the period with a day/night and weekday rhythm, then an event-driven
    scheduler (FIFO with backfill; a full-node job that waits over an hour drains nodes for itself)."""

    def __init__(self, specs, accounts, clock: _Clock, t0: int, cutoff: int, rng, day_starts: list[int]):
        self.specs = specs
        self.accounts = accounts
        self.clock = clock
        self.t0 = t0
        self.cutoff = cutoff
        self.rng = rng
        self.day_starts = day_starts
        self.cluster = _Cluster(specs)
        self.n_gpu = self.cluster.n_gpu
        self.n_cpu = len(specs) - self.n_gpu
        self.max_multi = min(8, self.n_gpu // 2) if self.n_gpu >= 4 else (2 if self.n_gpu >= 2 else 0)
        self.jobs: list[_Job] = []
        self.user_uid: dict[str, int] = {}
        self.dst_jobs: list[_Job] = []
        self.next_id = 4812000 + int(rng.integers(0, 1000))
        self._activations = sorted({a.active_from for a in accounts})
        self._active_cache: dict = {}
        self._user_cum: dict = {}
        self._gpu_cum = {}
        for area, (_, gpu_p, _) in AREA_PROFILE.items():
            p = np.array(gpu_p, dtype=float)
            if self.max_multi < 2:
                p[4] = 0.0
            self._gpu_cum[area] = np.cumsum(p)

    # -- generation ---------------------------------------------------------------------------

    def _account_for(self, t: int) -> _Account:
        key = sum(1 for x in self._activations if x <= t)
        if key not in self._active_cache:
            active = [a for a in self.accounts if a.active_from <= t]
            self._active_cache[key] = (active, np.cumsum([a.weight for a in active]))
        active, cum = self._active_cache[key]
        return active[_pick(self.rng, cum)]

    def _user(self, acct: _Account) -> str:
        cum = self._user_cum.get(acct.name)
        if cum is None:
            cum = self._user_cum[acct.name] = np.cumsum(1.0 / np.arange(1, len(acct.users) + 1))
        return acct.users[_pick(self.rng, cum)]

    def _new_job(self, t: int, acct: _Account, partition: str | None = None, size: int | None = None,
                 name: str | None = None, dur: int | None = None, state: tuple | None = None) -> _Job:
        rng = self.rng
        p_cpu, gpu_p, dur_factor = AREA_PROFILE[acct.area]
        if partition is None:
            partition = "cpu" if rng.random() < p_cpu else "gpu"
        if partition == "gpu":
            if size is None:
                size = GPU_SIZES[_pick(rng, self._gpu_cum[acct.area])]
            if size == 0:
                nnodes, per = int(rng.integers(2, self.max_multi + 1)), 8
                median = GPU_MEDIAN_MIN[4]
            else:
                nnodes, per = 1, size
                median = GPU_MEDIAN_MIN[GPU_SIZES.index(size)]
            cpg = 8 if rng.random() < 0.7 else 16
            cpus = per * cpg * nnodes
        else:
            if size is None:
                size = CPU_SIZES[_pick(rng, _CPU_SIZE_CUM)]
            nnodes, per = 1, size
            median = CPU_MEDIAN_MIN * (0.5 + size / 256)
            cpus = size
        if dur is None:
            dur = _draw_duration(rng, median * dur_factor)
        if state is None:
            st = END_STATES[_pick(rng, _STATE_CUM)]
        else:
            st = state
        margin = rng.uniform(1.1, 3.0)
        limit = next((lim for lim in LIMITS_MIN if lim * 60 >= dur * margin), LIMITS_MIN[-1])
        if st[0] == "TIMEOUT":
            dur = limit * 60 + int(rng.integers(1, 45))
        elif st[0] in ("FAILED", "OUT_OF_MEMORY"):
            dur = max(20, int(dur * rng.uniform(0.05, 0.6)))
        elif st[0] == "CANCELLED":
            dur = max(30, int(dur * rng.uniform(0.1, 0.9)))
        if dur > limit * 60 and st[0] != "TIMEOUT":
            dur = limit * 60 - int(rng.integers(1, 60))
        user = self._user(acct)
        names = JOB_NAMES[acct.area]
        job = _Job(
            name=name or names[int(rng.integers(len(names)))], user=user, account=acct.name, area=acct.area,
            partition=partition, qos="long" if limit > 1440 else ("short" if limit <= 60 else "normal"),
            unit_per_node=per, nnodes=nnodes, gpus=(per * nnodes if partition == "gpu" else 0), cpus=cpus,
            submit=t, dur=int(dur), limit_min=limit, state=st[0], exit=st[1],
            load=float(rng.uniform(0.6, 0.95)), held=False, extra_step=bool(rng.random() < 0.3),
            program=STEP_PROGRAMS[int(rng.integers(len(STEP_PROGRAMS)))],
        )
        if st[0] == "CANCELLED":
            job.cancel_uid = 0 if rng.random() < 0.1 else self.user_uid[user]
        return job

    def generate(self) -> None:
        rng = self.rng
        hours = (self.cutoff - self.t0) // 3600
        per_day = ALLOCS_PER_56_NODES_PER_DAY * len(self.specs) / 56.0
        allocs_per_sub = (1 - ARRAY_FRACTION) + ARRAY_FRACTION * sum(ARRAY_TASKS) / 2
        subs_per_day = per_day / allocs_per_sub
        norm = HOUR_WEIGHT.sum() * WEEKDAY_WEIGHT.mean()
        entries: list[_Job] = []
        for h in range(hours):
            ts = self.t0 + h * 3600
            lam = subs_per_day * HOUR_WEIGHT[int(self.clock.local_hour(ts))] * WEEKDAY_WEIGHT[
                self.clock.local_weekday(ts)] / norm
            n = int(rng.poisson(lam))
            offs = np.sort(rng.integers(0, 3600, size=n))
            for off in offs:
                t = ts + int(off)
                acct = self._account_for(t)
                if rng.random() < ARRAY_FRACTION:
                    entries.extend(self._array(t, acct, int(rng.integers(*ARRAY_TASKS))))
                    continue
                job = self._new_job(t, acct)
                if rng.random() < HELD_FRACTION:
                    self._hold(job)
                entries.append(job)
        self._inject(entries)
        entries.sort(key=lambda j: (j.submit, j.seq if j.seq is not None else 0))
        self.submissions = entries

    def _hold(self, job: _Job) -> None:
        job.held = True
        job.state = "CANCELLED"
        job.exit = "0:0"
        job.pending_reason = "Dependency"
        job.cancel_at = job.submit + int(self.rng.integers(300, 6 * 3600))
        job.cancel_uid = self.user_uid[job.user]

    def _array(self, t: int, acct: _Account, n: int, held_from: int | None = None,
               partition: str | None = None, size: int | None = None) -> list[_Job]:
        rng = self.rng
        base = self._new_job(t, acct, partition=partition, size=size,
                             name=ARRAY_NAMES[int(rng.integers(len(ARRAY_NAMES)))], state=("COMPLETED", "0:0", 1.0))
        group = {"remaining": n}
        tasks = []
        for i in range(1, n + 1):
            st = ("FAILED", "1:0", 0) if rng.random() < 0.05 else ("COMPLETED", "0:0", 1.0)
            task = self._new_job(t, acct, partition=base.partition,
                                 size=(base.unit_per_node if base.nnodes == 1 else 0),
                                 name=base.name, state=st)
            task.user = base.user
            task.array_id = group
            task.task = i
            if held_from is not None and i >= held_from:
                task.held = True
                task.state = "PENDING"
                task.pending_reason = "JobHeldUser"
                task.cancel_at = None
            tasks.append(task)
        return tasks

    def _inject(self, entries: list[_Job]) -> None:
        """The quirks that must be there whatever the random draws."""
        rng = self.rng
        ops = next(a for a in self.accounts if a.name == "ops-test")
        research = [a for a in self.accounts if a.area == "methods_research"]
        n_days = len(self.day_starts) - 1
        # one dependency job per day that its user cancels before it starts
        for d in range(n_days):
            t = self.day_starts[d] + 9 * 3600 + int(rng.integers(0, 3600))
            job = self._new_job(t, research[d % len(research)])
            self._hold(job)
            job.cancel_at = t + int(rng.integers(1200, 7200))
            entries.append(job)
        # a heterogeneous job every third day: a CPU controller and a 4-GPU worker
        for d in range(0, n_days, 3):
            t = self.day_starts[d] + 10 * 3600 + int(rng.integers(0, 3600))
            acct = research[(d // 3) % len(research)]
            a = self._new_job(t, acct, partition="cpu", size=16, name="het-pipeline", state=("COMPLETED", "0:0", 1))
            b = self._new_job(t, acct, partition="gpu", size=4, name="het-pipeline", state=("COMPLETED", "0:0", 1))
            b.user, b.dur, b.limit_min, b.qos = a.user, a.dur, a.limit_min, a.qos
            a.het_off, b.het_off = 0, 1
            a.het_peer, b.het_peer = b, a
            entries.append(a)
        # an array whose last tasks the user holds: pending as 123_[5-9] at the export
        t = max(self.t0, self.cutoff - 3 * 3600 + int(rng.integers(0, 1800)))
        entries.extend(self._array(t, research[0], 9, held_from=5, partition="gpu", size=1))
        # a few plain jobs held at the export, pending with Start Unknown
        for k in range(3):
            t = max(self.t0, self.cutoff - 3600 + int(rng.integers(0, 3000)))
            job = self._new_job(t, research[(k + 1) % len(research)])
            job.held = True
            job.state = "PENDING"
            job.pending_reason = "Dependency"
            entries.append(job)
        # jobs around the repeated hour when summer time ends, on a node slice reserved for them
        fallbacks = [(T, a - b) for T, a, b in self.clock.transitions if a > b and self.t0 <= T < self.cutoff]
        res_node = len(self.specs) - 1
        for T, delta in fallbacks:
            windows = [
                (T - delta + 600, T - delta + 2400),    # both readings in the first pass
                (T - delta + 2400, T + 600),            # starts in summer time, ends in winter time
                (T - delta - 600, T + 1200),            # starts before the hour, ends in its repeat
            ]
            self.cluster.reservations.append((res_node, 8, T - delta - 1800, T + delta))
            for s, e in windows:
                job = self._new_job(s - 2, ops, partition="cpu", size=2, name="nhc-check", dur=e - s,
                                    state=("COMPLETED", "0:0", 1))
                job.pin_node = res_node
                job.submit = s - 2
                job.dur = e - s
                entries.append(job)
                self.dst_jobs.append(job)
        for i, job in enumerate(entries):
            job.seq = i

    # -- scheduling ---------------------------------------------------------------------------

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _start(self, job: _Job, t: int, nodes: list[int]) -> None:
        job.start = t
        job.end = t + job.dur
        job.nodes = nodes
        self.cluster.take(job.partition, nodes, job.unit_per_node, job)
        if isinstance(job.array_id, dict):
            grp = job.array_id
            grp["remaining"] -= 1
            job.raw = grp["id"] if grp["remaining"] == 0 else self._new_id()
            job.array_id = grp["id"]
        heapq.heappush(self.heap, (job.end, job.seq, job))

    def _try(self, job: _Job, t: int, failed: dict) -> bool:
        """Start ``job`` (both parts of a heterogeneous job) at ``t`` if it fits.

        ``failed`` remembers, within one pass at one instant, the smallest request that did not
        fit under the same conditions: a larger one cannot fit either (resources only shrink
        during a pass), so it is skipped without a search.
        """
        cl = self.cluster
        parts = [job] if job.het_peer is None else [job, job.het_peer]
        placed = []
        for j in parts:
            part = j.partition
            blk = self.blockers.get(part)
            nodes = None
            if j.unit_per_node <= cl.maxfree[part]:
                e = t + j.dur
                exclude = None
                if blk is not None and blk[0] is not job and e > blk[1]:
                    exclude = blk[2]
                key = (part, exclude is not None, j.nnodes > 1, cl.reserved(part, t, e))
                size = j.nnodes if j.nnodes > 1 else j.unit_per_node
                if size < failed.get(key, 1 << 30):
                    nodes = cl.fit(part, j.unit_per_node, j.nnodes, t, e, exclude)
                    if nodes is None and j is job:
                        failed[key] = size
            if nodes is None:
                if job.het_peer is None and t - job.submit >= BLOCKER_WAIT_S and (
                        blk is None or (blk[0] is job and t >= blk[1])):
                    self.blockers[part] = (job, *cl.hold_for(part, j.unit_per_node, j.nnodes, t))
                return False
            placed.append(nodes)
        if len(parts) == 2 and parts[0].partition == parts[1].partition and set(placed[0]) & set(placed[1]):
            return False
        for j, nodes in zip(parts, placed):
            self._start(j, t, nodes)
        for part, blk in list(self.blockers.items()):
            if blk[0] is job:
                del self.blockers[part]
        return True

    def simulate(self) -> None:
        self.heap: list = []
        self.blockers: dict[str, tuple[_Job, int, np.ndarray]] = {}
        queue: list[_Job] = []
        subs = self.submissions
        i, n = 0, len(subs)
        inf = 1 << 62
        depth = 400
        while True:
            t_sub = subs[i].submit if i < n else inf
            t_end = self.heap[0][0] if self.heap else inf
            t = min(t_sub, t_end)
            if t >= self.cutoff:
                break
            freed = set()
            while self.heap and self.heap[0][0] <= t:
                _, _, done = heapq.heappop(self.heap)
                self.cluster.give(done.partition, done.nodes, done.unit_per_node, done)
                freed.add(done.partition)
            new = []
            while i < n and subs[i].submit <= t:
                job = subs[i]
                i += 1
                self._submit(job)
                if job.pin_node is not None:
                    self._start(job, job.submit + 2, [job.pin_node])
                elif not job.held:
                    queue.append(job)
                    new.append(job)
            if freed and queue:
                started = False
                failed: dict = {}
                maxfree = self.cluster.maxfree
                for job in queue[:depth]:
                    part = job.partition
                    if job.het_peer is None and (part not in freed or (
                            job.unit_per_node > maxfree[part]
                            and (part in self.blockers or t - job.submit < BLOCKER_WAIT_S))):
                        continue   # nothing freed for it, or it cannot fit and needs no reservation
                    if self._try(job, t, failed):
                        started = True
                if started:
                    queue = [j for j in queue if j.start is None]
            elif new:
                started = False
                failed = {}
                for job in new:
                    if self._try(job, t, failed):
                        started = True
                if started:
                    queue = [j for j in queue if j.start is None]

    def _submit(self, job: _Job) -> None:
        if isinstance(job.array_id, dict):
            grp = job.array_id
            if "id" not in grp:
                grp["id"] = self._new_id()
        elif job.het_off == 0:
            job.raw = self._new_id()
            job.het_id = job.raw
            peer = job.het_peer
            peer.raw = self._new_id()
            peer.het_id = job.raw
            peer.seq = job.seq + 10_000_000
        else:
            job.raw = self._new_id()

    def finish(self) -> list[_Job]:
        """Final states at the export cutoff; returns all allocation records (arrays unexpanded)."""
        jobs: list[_Job] = []
        seen = set()
        for job in self.submissions:
            parts = [job] if job.het_peer is None else [job, job.het_peer]
            for j in parts:
                if id(j) in seen:
                    continue
                seen.add(id(j))
                jobs.append(j)
        for j in jobs:
            if j.start is not None:
                if j.end >= self.cutoff:
                    j.state, j.exit, j.end = "RUNNING", "0:0", None
            elif j.held and j.cancel_at is not None and j.cancel_at < self.cutoff:
                j.end = j.cancel_at
            else:
                j.state, j.exit = "PENDING", "0:0"
                if j.pending_reason is None:
                    j.pending_reason = "Resources" if j.partition == "gpu" else "Priority"
                j.cancel_uid = None
            if isinstance(j.array_id, dict):
                j.array_id = j.array_id["id"]
        self.jobs = jobs
        return jobs


# ---------------------------------------------------------------------------------------------
# Slurm output


def _elapsed_text(s: int) -> str:
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return f"{d}-{h:02d}:{m:02d}:{sec:02d}" if d else f"{h:02d}:{m:02d}:{sec:02d}"


def _tres_text(job: _Job, billing: bool = True, nodes: int | None = None) -> str:
    k = nodes if nodes is not None else job.nnodes
    frac = k / job.nnodes
    cpus = int(job.cpus * frac)
    parts = []
    if billing:
        parts.append(f"billing={cpus}")
    parts.append(f"cpu={cpus}")
    if job.gpus:
        g = int(job.gpus * frac)
        parts.append(f"gres/gpu:h100={g}")
        parts.append(f"gres/gpu={g}")
    if job.partition == "gpu":
        parts.append(f"mem={GPU_MEM_G[job.unit_per_node] * k}G")
    else:
        parts.append(f"mem={job.unit_per_node * CPU_MEM_MB_PER_CORE * k}M")
    parts.append(f"node={k}")
    return ",".join(parts)


def _int_ranges(ids: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3,5`` (how sacct prints the pending tasks of an array)."""
    out, lo, prev = [], ids[0], ids[0]
    for i in ids[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        out.append(str(lo) if lo == prev else f"{lo}-{prev}")
        if i is not None:
            lo = prev = i
    return ",".join(out)


def _mem_mb(job: _Job) -> int:
    if job.partition == "gpu":
        return GPU_MEM_G[job.unit_per_node] * job.nnodes * 1024
    return job.unit_per_node * CPU_MEM_MB_PER_CORE * job.nnodes


@dataclass
class _Record:
    """One line of sacct output (allocation or step), before formatting."""

    job_id: str
    raw: str
    name: str
    user: str
    account: str
    partition: str
    qos: str
    state: str
    exit: str
    submit: int | None
    start: int | None
    end: int | None
    elapsed: int
    nnodes: int
    ncpus: int
    tres: str
    nodelist: str
    energy: str
    step_name: str | None = None
    nodes: list[str] | None = None


class _SlurmOut:
    def __init__(self, specs: list[NodeSpec], clock: _Clock, cutoff: int):
        self.specs = specs
        self.clock = clock
        self.cutoff = cutoff

    def job_id(self, j: _Job) -> str:
        if j.array_id is not None:
            return f"{j.array_id}_{j.task}"
        if j.het_off is not None:
            return f"{j.het_id}+{j.het_off}"
        return str(j.raw)

    def node_names(self, j: _Job) -> list[str]:
        return [self.specs[n].name for n in j.nodes]

    def energy_j(self, j: _Job, elapsed: int) -> int:
        total = 0.0
        for n in j.nodes:
            s = self.specs[n]
            share = j.unit_per_node / (s.gpus if s.partition == "gpu" else s.cpus)
            total += share * (s.idle_w + j.load * (s.max_w - s.idle_w))
        return int(round(total * elapsed))

    def alloc_records(self, j: _Job) -> list[_Record]:
        """The allocation line and its steps."""
        uid = j.cancel_uid
        state = j.state if not (j.state == "CANCELLED" and uid is not None) else f"CANCELLED by {uid}"
        jid = self.job_id(j)
        if j.start is None:
            return [_Record(jid, str(j.raw), j.name, j.user, j.account, j.partition, j.qos, state, j.exit,
                            j.submit, None, j.end, 0, j.nnodes, j.cpus, "", "None assigned", "")]
        end = j.end
        elapsed = (end if end is not None else self.cutoff) - j.start
        names = self.node_names(j)
        nodelist = compress(names)
        recs = [_Record(jid, str(j.raw), j.name, j.user, j.account, j.partition, j.qos, state, j.exit,
                        j.submit, j.start, end, elapsed, j.nnodes, j.cpus, _tres_text(j), nodelist,
                        str(self.energy_j(j, elapsed)), nodes=names)]
        running = end is None
        # step states follow the job's
        final = {
            "COMPLETED": ("COMPLETED", "0:0"), "FAILED": ("FAILED", "1:0"),
            "OUT_OF_MEMORY": ("OUT_OF_MEMORY", "0:125"), "TIMEOUT": ("CANCELLED", "0:15"),
            "CANCELLED": ("CANCELLED", "0:15"), "RUNNING": ("RUNNING", "0:0"),
        }[j.state]
        s0 = min(10, elapsed // 10)
        tail = 0 if running else min(3, elapsed // 20)
        if j.het_off in (None, 0):
            b_end = None if running else end + (2 if j.state == "TIMEOUT" else 0)
            recs.append(self._step(j, "batch", "batch", final, j.start, b_end, 1, names[:1]))
        recs.append(self._step(j, "extern", "extern", ("RUNNING", "0:0") if running else ("COMPLETED", "0:0"),
                               j.start, end, j.nnodes, names))
        srun_start = j.start + s0
        srun_end = None if running else end - tail
        if j.extra_step and elapsed >= 60:
            mid = j.start + elapsed // 2
            recs.append(self._step(j, "0", j.program, ("COMPLETED", "0:0"), srun_start, mid, j.nnodes, names))
            recs.append(self._step(j, "1", j.program, final, mid + 1, srun_end, j.nnodes, names))
        else:
            recs.append(self._step(j, "0", j.program, final, srun_start, srun_end, j.nnodes, names))
        return recs

    def _step(self, j: _Job, step: str, name: str, st: tuple, start: int, end: int | None, k: int,
              names: list[str]) -> _Record:
        elapsed = (end if end is not None else self.cutoff) - start
        frac = k / j.nnodes
        return _Record(f"{self.job_id(j)}.{step}", f"{j.raw}.{step}", name, "", j.account, "", "", st[0], st[1],
                       start, start, end, max(0, elapsed), k, int(j.cpus * frac),
                       _tres_text(j, billing=(step == "extern"), nodes=k), compress(names), "",
                       step_name=step, nodes=names)

    def pending_array_record(self, tasks: list[_Job]) -> list[_Record]:
        j = tasks[0]
        spec = f"[{_int_ranges(sorted(t.task for t in tasks))}]"
        return [_Record(f"{j.array_id}_{spec}", str(j.array_id), j.name, j.user, j.account, j.partition, j.qos,
                        "PENDING", "0:0", j.submit, None, None, 0, j.nnodes, j.cpus, "", "None assigned", "")]

    # -- text --

    def _t(self, t: int | None) -> str:
        return "Unknown" if t is None else self.clock.local(t)

    def line(self, r: _Record) -> str:
        return "|".join((
            r.job_id, r.raw, r.name, r.user, r.account, r.partition, r.qos, r.state, r.exit,
            self._t(r.submit), self._t(r.start), self._t(r.end), _elapsed_text(r.elapsed), str(r.elapsed),
            str(r.nnodes), str(r.ncpus), r.tres, r.nodelist, r.energy,
        ))

    # -- json --

    @staticmethod
    def _num(v: int | None) -> dict:
        return {"set": v is not None, "infinite": False, "number": v if v is not None else 0}

    @staticmethod
    def _exit(code: str) -> dict:
        rc, sig = (int(x) for x in code.split(":"))
        status = "SUCCESS" if rc == 0 and sig == 0 else ("SIGNALED" if sig else "ERROR")
        return {"status": [status], "return_code": {"set": True, "infinite": False, "number": rc},
                "signal": {"id": {"set": sig != 0, "infinite": False, "number": sig},
                           "name": {15: "TERM", 9: "KILL"}.get(sig, "")}}

    @staticmethod
    def _tres_list(text: str) -> list[dict]:
        ids = {"cpu": 1, "mem": 2, "node": 4, "billing": 5}
        out = []
        for item in text.split(",") if text else []:
            key, val = item.split("=")
            if key.startswith("gres/"):
                out.append({"type": "gres", "name": key[5:], "id": 1001 if key == "gres/gpu" else 1002,
                            "count": int(val)})
            elif key == "mem":
                mb = int(val[:-1]) * (1024 if val.endswith("G") else 1)
                out.append({"type": "mem", "name": "", "id": 2, "count": mb})
            else:
                out.append({"type": key, "name": "", "id": ids[key], "count": int(val)})
        return out

    def json_job(self, recs: list[_Record], j: _Job, uid_user: dict[int, str], cluster: str) -> dict:
        a = recs[0]
        state = a.state.split()[0]
        cancelled_by = ""
        if a.state.startswith("CANCELLED by "):
            cancelled_by = uid_user.get(int(a.state.split()[-1]), "root")
        pending_range = "_[" in a.job_id
        if j.array_id is not None:
            array = {"job_id": j.array_id, "limits": {"max": {"running": {"tasks": 0}}},
                     "task_id": self._num(None if pending_range else j.task),
                     "task": a.job_id.split("_", 1)[1][1:-1] if pending_range else ""}
        else:
            array = {"job_id": 0, "limits": {"max": {"running": {"tasks": 0}}}, "task_id": self._num(None),
                     "task": ""}
        het = {"job_id": j.het_id if j.het_off is not None else 0,
               "job_offset": self._num(j.het_off if j.het_off is not None else None)}
        alloc_tres = self._tres_list(a.tres)
        req_tres = self._tres_list(_tres_text(j))
        steps = []
        for r in recs[1:]:
            steps.append({
                "time": {"elapsed": r.elapsed, "end": self._num(r.end), "start": self._num(r.start),
                         "suspended": 0},
                "exit_code": self._exit(r.exit),
                "nodes": {"count": r.nnodes, "range": r.nodelist, "list": r.nodes},
                "tasks": {"count": r.nnodes},
                "kill_request_user": cancelled_by if r.state == "CANCELLED" else "",
                "state": [r.state],
                "step": {"id": r.raw, "name": r.name},
                "tres": {"allocated": self._tres_list(r.tres)},
            })
        return {
            "account": a.account,
            "allocation_nodes": a.nnodes if a.start is not None else 0,
            "array": array,
            "association": {"account": a.account, "cluster": cluster, "partition": "", "user": a.user},
            "cluster": cluster,
            "derived_exit_code": self._exit(a.exit),
            "time": {"elapsed": a.elapsed, "eligible": a.submit, "end": a.end or 0, "start": a.start or 0,
                     "submission": a.submit, "suspended": 0,
                     "limit": {"set": True, "infinite": False, "number": j.limit_min}},
            "exit_code": self._exit(a.exit),
            "flags": ["STARTED_ON_SCHEDULE"] if a.start is not None else [],
            "group": a.user,
            "het": het,
            "job_id": int(a.raw),
            "name": a.name,
            "nodes": a.nodelist,
            "partition": a.partition,
            "qos": a.qos,
            "required": {"CPUs": j.cpus, "memory_per_node": self._num(_mem_mb(j) // j.nnodes)},
            "kill_request_user": cancelled_by,
            "state": {"current": [state],
                      "reason": j.pending_reason if state == "PENDING" else "None"},
            "steps": steps,
            "tres": {"allocated": alloc_tres, "requested": req_tres},
            "user": a.user,
        }


# ---------------------------------------------------------------------------------------------
# writers


def _csv_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes()


def _iso_z(epochs: np.ndarray) -> pa.Array:
    ts = pa.array(epochs.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC"))
    return pc.strftime(ts, format="%Y-%m-%dT%H:%M:%SZ")


def _meter_values(day_slots: int, slot_t: np.ndarray, clock: _Clock, it_kwh: np.ndarray, rng) -> dict:
    """Energy per 15-minute slot for each kWh meter, from the IT energy and the weather of the day.

    The centre consumes E_DC = IT x PUE; PV covers part of it by day and feeds a share of its
    output into the grid, so grid intake = E_DC - PV + export. The cooling removes nearly all of
    the IT energy as heat; part of it is delivered for reuse, the rest released.
    """
    hours = np.array([clock.local_hour(int(t) + METER_SLOT_S // 2) for t in slot_t])
    warm = rng.uniform(-0.12, 0.12)
    phase = 0.45 + 0.30 * np.sin(2 * np.pi * (hours - 9.0) / 24.0) + warm + rng.normal(0, 0.03, day_slots)
    pue = PUE_LOW + 0.01 + (PUE_HIGH - PUE_LOW - 0.02) * np.clip(phase, 0.0, 1.0)
    dc = it_kwh * pue
    cool = 0.82 * (dc - it_kwh)
    other = dc - it_kwh - cool
    heat = it_kwh * (0.20 + 0.10 * np.clip(0.5 - 0.35 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
                                             + rng.normal(0, 0.03, day_slots), 0, 1))
    cloud = rng.uniform(0.3, 1.0)
    sun = np.clip(np.sin(np.pi * (hours - 7.5) / 10.0), 0, None) * ((hours > 7.5) & (hours < 17.5))
    pv = dc * 0.40 * cloud * sun
    export = EXPORT_SHARE * pv
    removed = HEAT_REMOVED_SHARE * it_kwh
    return {"M-GRID": dc - pv + export, "M-IT": it_kwh, "M-COOL": cool, "M-OTHER": other, "M-HEAT": heat,
            "M-PV": pv, "M-EXPORT": export, "M-HEATRM": removed, "M-HEATREL": removed - heat}


def _temperatures(n: int, slot_t: np.ndarray, clock: _Clock, rng) -> dict[str, np.ndarray]:
    """Temperatures (degC) at the readings: the heat delivered for reuse runs warmer in the morning."""
    hours = np.array([clock.local_hour(int(t)) for t in slot_t[:n]])
    wave = np.sin(2 * np.pi * (hours - 6.0) / 24.0)
    return {"M-HEAT-T": 45.0 + 2.0 * wave + rng.normal(0, 0.3, n),
            "M-HEATREL-T": 31.0 + 1.5 * wave + rng.normal(0, 0.3, n)}


# ---------------------------------------------------------------------------------------------
# the generator


@dataclass
class _Period:
    tz: str
    zone: ZoneInfo
    day_dates: list[date]
    day_starts: list[int]     # UTC epoch of each local midnight, plus the export cutoff
    clock: _Clock

    @property
    def t0(self) -> int:
        return self.day_starts[0]

    @property
    def cutoff(self) -> int:
        return self.day_starts[-1]

    @property
    def days(self) -> int:
        return len(self.day_dates)

    def day_of(self, t: int) -> int:
        return bisect.bisect_right(self.day_starts, t) - 1

    def change_days(self, fallback_only: bool = False) -> list[int]:
        """Days on which the zone's offset changes (summer time ends, with ``fallback_only``)."""
        return sorted({self.day_of(T) for T, before, after in self.clock.transitions
                       if self.t0 <= T < self.cutoff and (before > after or not fallback_only)})


class _Files:
    """What was written, with its counts, for the manifest."""

    def __init__(self, out: Path):
        self.out = out
        self.rows: list[dict] = []

    def add(self, path: Path, source: str, fmt: str, **counts) -> None:
        self.rows.append({"path": path.relative_to(self.out).as_posix(), "source": source, "format": fmt, **counts})


def _iso(t: int) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _accounts(contracts: list[dict], period: _Period) -> list[_Account]:
    """Slurm accounts with their users; an account starts submitting when a contract covers it."""
    accounts: list[_Account] = []
    user_no = 0
    for doc, partner in zip(contracts, PARTNERS):
        active = max(period.t0, _midnight_utc(doc["valid_from"], period.zone))
        for acct, weight, n_users in partner.accounts:
            users = [f"user{user_no + k + 1:03d}" for k in range(n_users)]
            user_no += n_users
            accounts.append(_Account(acct, partner.area, weight, users, active))
        for am in doc["amendments"]:
            for acct in am.get("accounts", []):
                if acct not in {a.name for a in accounts}:
                    users = accounts[-1].users[:2] + [f"user{user_no + 1:03d}"]
                    user_no += 1
                    accounts.append(_Account(acct, partner.area, 0.8, users,
                                             max(period.t0, _midnight_utc(am["effective_from"], period.zone))))
    accounts.append(_Account(LOST_ACCOUNT, "unassigned", LOST_ACCOUNT_WEIGHT, [f"user{user_no + 1:03d}"], period.t0))
    return accounts


def _write_slurm(out: Path, jobs: list[_Job], so: _SlurmOut, period: _Period, json_days: set[int],
                 uid_user: dict[int, str], files: _Files, report) -> dict:
    """One sacct file per local day with the allocations that ended that day (and their steps);
    the last day's file also holds what is running or pending at the export cutoff."""
    days, last = period.days, period.days - 1
    per_day: list[list[tuple]] = [[] for _ in range(days)]
    pending_arrays: dict[int, list[_Job]] = {}
    for j in jobs:
        if j.state == "PENDING" and j.array_id is not None:
            pending_arrays.setdefault(j.array_id, []).append(j)
            continue
        d = last if j.end is None else period.day_of(j.end)
        key = (j.array_id if j.array_id is not None else (j.het_id if j.het_id is not None else j.raw),
               j.task if j.task is not None else (j.het_off or 0))
        per_day[d].append((key, j, None))
    for aid, tasks in pending_arrays.items():
        per_day[last].append(((aid, 1 << 30), tasks[0], tasks))

    totals = {"allocations": 0, "steps": 0}
    meta = {"plugin": {"type": "openapi/slurmdbd", "name": "Slurm OpenAPI slurmdbd",
                       "data_parser": "data_parser/v0.0.40", "accounting_storage": "accounting_storage/slurmdbd"},
            "command": ["sacct", "--json"],
            "slurm": {"version": {"major": EXPORT_RELEASE[0], "micro": EXPORT_RELEASE[2], "minor": EXPORT_RELEASE[1]},
                      "release": ".".join(EXPORT_RELEASE), "cluster": "kirz-leipzig"}}
    for d in range(days):
        entries = sorted(per_day[d], key=lambda e: e[0])
        name = f"sacct-{period.day_dates[d].isoformat()}"
        n_alloc = n_steps = 0
        if d in json_days:
            path = out / "slurm" / f"{name}.json"
            with open(path, "wb") as f:   # one job at a time: a day of a large cluster is big
                f.write(b'{\n  "meta": ' + orjson.dumps(meta, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
                        + b',\n  "jobs": [')
                for k, (_, j, tasks) in enumerate(entries):
                    recs = so.pending_array_record(tasks) if tasks else so.alloc_records(j)
                    body = orjson.dumps(so.json_job(recs, j, uid_user, "kirz-leipzig"), option=orjson.OPT_INDENT_2)
                    f.write((b",\n    " if k else b"\n    ") + body.replace(b"\n", b"\n    "))
                    n_alloc += 1
                    n_steps += len(recs) - 1
                f.write((b"\n  " if entries else b"") + b'],\n  "warnings": [],\n  "errors": []\n}\n')
            fmt = "sacct_json"
        else:
            lines = ["|".join(SACCT_FIELDS)]
            for _, j, tasks in entries:
                recs = so.pending_array_record(tasks) if tasks else so.alloc_records(j)
                lines.extend(so.line(r) for r in recs)
                n_alloc += 1
                n_steps += len(recs) - 1
            path = out / "slurm" / f"{name}.txt"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            fmt = "sacct_parsable2"
        files.add(path, "slurm", fmt, allocations=n_alloc, steps=n_steps, records=n_alloc + n_steps)
        totals["allocations"] += n_alloc
        totals["steps"] += n_steps
        report("slurm", d + 1, days)
    return totals


class _Power:
    """Node power per local day: a nodes x samples matrix built from the job intervals."""

    def __init__(self, jobs: list[_Job], specs: list[NodeSpec], n_gpu: int, period: _Period, interval_s: int,
                 seed: int):
        self.specs = specs
        self.period = period
        self.dt = interval_s
        self.seed = seed
        node, val, start, end = [], [], [], []
        for j in jobs:
            if j.start is None:
                continue
            e = min(j.end if j.end is not None else period.cutoff, period.cutoff)
            for n in j.nodes:
                s = specs[n]
                share = j.unit_per_node / (s.gpus if s.partition == "gpu" else s.cpus)
                node.append(n)
                val.append(share * j.load * (s.max_w - s.idle_w))
                start.append(j.start)
                end.append(e)
        self.node = np.array(node, dtype=np.int64)
        self.val = np.array(val, dtype=np.float64)
        self.start = np.array(start, dtype=np.int64)
        self.end = np.array(end, dtype=np.int64)
        self.idle = np.array([s.idle_w for s in specs])
        self.max_w = np.array([s.max_w for s in specs], dtype=float)
        self.names = pa.array([s.name for s in specs])
        self.prom_nodes = list(range(min(4, n_gpu)))
        self.csv_nodes = np.array([i for i in range(len(specs)) if i not in self.prom_nodes], dtype=np.int64)
        self.gap_day = min(1, period.days - 1)
        self.gap_node = int(self.csv_nodes[0])
        self.gap_len = max(1, 1200 // interval_s)
        self.dup_node = int(self.csv_nodes[min(1, len(self.csv_nodes) - 1)])
        self.samples = {"csv": 0, "prometheus": 0}
        self.quirks: dict = {}

    def watts(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(sample times, watts[node, sample]) of day ``d``: a sample at t sees the jobs with
        start <= t < end; watts = idle + (max - idle) x share x load, plus about 1 % noise, within [0, max]."""
        ds, de = self.period.day_starts[d], self.period.day_starts[d + 1]
        dt, n_nodes = self.dt, len(self.specs)
        S = (de - ds) // dt
        sel = (self.start < de) & (self.end > ds)
        nn, vv = self.node[sel], self.val[sel]
        i0 = np.clip(-((ds - self.start[sel]) // dt), 0, S)   # first sample at or after the start
        i1 = np.clip(-((ds - self.end[sel]) // dt), 0, S)
        width = S + 1
        diff = (np.bincount(nn * width + i0, weights=vv, minlength=n_nodes * width)
                - np.bincount(nn * width + i1, weights=vv, minlength=n_nodes * width))
        busy = np.cumsum(diff.reshape(n_nodes, width)[:, :S], axis=1)
        np.clip(busy, 0, None, out=busy)
        base = self.idle[:, None] + busy
        noise = np.random.default_rng([self.seed, 1000 + d]).normal(0.0, 1.0, size=base.shape)
        # a power supply never reports more than the node's rating: noise is clipped to [0, max_w]
        watts = np.round(np.clip(base + noise * (0.01 * base + 3.0), 0, self.max_w[:, None]), 1)
        return ds + np.arange(S, dtype=np.int64) * dt, watts

    def write(self, out: Path, d: int, sample_t: np.ndarray, watts: np.ndarray, files: _Files) -> None:
        day = self.period.day_dates[d].isoformat()
        S = len(sample_t)
        t_idx = np.repeat(np.arange(S), len(self.csv_nodes))   # time-major, as a collector writes
        n_idx = np.tile(self.csv_nodes, S)
        if d == self.gap_day:
            k0 = max(0, min(14 * 3600 // self.dt, S - self.gap_len))
            keep = ~((n_idx == self.gap_node) & (t_idx >= k0) & (t_idx < k0 + self.gap_len))
            t_idx, n_idx = t_idx[keep], n_idx[keep]
            self.quirks["power_gap"] = {"node": self.specs[self.gap_node].name, "from": _iso(sample_t[k0]),
                                        "to": _iso(sample_t[k0] + self.gap_len * self.dt),
                                        "samples_missing": self.gap_len}
        if d == 0:
            k = S // 3
            pos = int(np.flatnonzero((t_idx == k) & (n_idx == self.dup_node))[0])
            t_idx = np.insert(t_idx, pos + 1, k)
            n_idx = np.insert(n_idx, pos + 1, self.dup_node)
            self.quirks["power_duplicate"] = {"node": self.specs[self.dup_node].name, "at": _iso(sample_t[k]),
                                              "file": f"power/power-{day}.csv"}
        table = pa.table({"timestamp": _iso_z(sample_t).take(pa.array(t_idx)),
                          "node": self.names.take(pa.array(n_idx)),
                          "watts": pa.array(watts[n_idx, t_idx])})
        path = out / "power" / f"power-{day}.csv"
        with open(path, "wb") as f:
            f.write(b"timestamp,node,watts\n")
            f.write(_csv_bytes(table))
        files.add(path, "power", "node_power_csv", rows=len(t_idx))
        self.samples["csv"] += len(t_idx)
        if self.prom_nodes:
            result = []
            for n in self.prom_nodes:
                vals = ",".join(f'[{int(t)},"{w:.1f}"]' for t, w in zip(sample_t, watts[n]))
                result.append('{"metric":{"__name__":"node_power_watts","instance":"%s:9100","job":"node"},'
                              '"values":[%s]}' % (self.specs[n].name, vals))
            path = out / "power" / f"power-prom-{day}.json"
            path.write_text('{"status":"success","data":{"resultType":"matrix","result":[%s]}}\n' % ",".join(result),
                            encoding="utf-8")
            files.add(path, "power", "prometheus_query_range", series=len(self.prom_nodes),
                      samples=S * len(self.prom_nodes))
            self.samples["prometheus"] += S * len(self.prom_nodes)


class _Gpu:
    """GPU metrics of the NVIDIA DCGM exporter on every GPU node: one Prometheus ``query_range``
    file per local day holding the three series kirz reads, a sample every ``interval_s``.

    A job holds, on each of its nodes, the lowest GPU indices free when it starts. A sample at t
    sees the jobs with start <= t < end: a GPU a job holds shows the job's load as utilisation
    (with a few % noise, whole percent as DCGM reports it), power above idle in proportion and
    a frame buffer in use; a GPU no job holds reads 0 % (now and then 1 %), idle power and no
    memory. The exporters of every other GPU node (gpu001, gpu003, ...) map GPUs to jobs: their
    busy GPUs carry the label ``hpc_job`` = the job's JobIDRaw (what ``--hpc-job-mapping-dir``
    gives), so a GPU's series splits by job; the other nodes' exporters map nothing.
    """

    MODEL = "NVIDIA H100 80GB HBM3"
    IDLE_W = 65.0
    BUSY_W = 620.0        # above idle at 100 % (H100 SXM: 700 W)
    METRICS = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED")

    def __init__(self, jobs: list[_Job], specs: list[NodeSpec], period: _Period, interval_s: int, seed: int):
        self.specs = specs
        self.period = period
        self.dt = interval_s
        self.seed = seed
        self.nodes = [n for n, s in enumerate(specs) if s.partition == "gpu" and s.gpus > 0]
        self.base = {}
        for n in self.nodes:
            self.base[n] = sum(specs[m].gpus for m in self.nodes if m < n)
        self.n_gpus = sum(specs[n].gpus for n in self.nodes)
        self.mapped = {n for k, n in enumerate(self.nodes) if k % 2 == 0}
        # (node, start, end, GPU indices, job), the GPUs each job holds on each node
        self.holds: list[tuple[int, int, int, tuple[int, ...], _Job]] = []
        per_node: dict[int, list[tuple[int, int, _Job]]] = {}
        for j in jobs:
            if j.start is None or j.partition != "gpu" or not j.gpus:
                continue
            end = min(j.end if j.end is not None else period.cutoff, period.cutoff)
            if end <= j.start:
                continue
            for n in j.nodes:
                if n in self.base:
                    per_node.setdefault(n, []).append((j.start, end, j))
        for n, items in sorted(per_node.items()):
            free_at = [0] * specs[n].gpus
            for start, end, j in sorted(items, key=lambda x: (x[0], x[1], x[2].raw)):
                free = [g for g, t in enumerate(free_at) if t <= start]
                take = free[: j.unit_per_node]
                for g in take:
                    free_at[g] = end
                self.holds.append((n, start, end, tuple(take), j))
        self.rows = 0
        self.series = 0
        # busy GPU-seconds of the jobs that ran on mapping nodes only (what dbt's exact path
        # gives them) and of the others (which dbt can only approximate)
        self.busy_s = {"exact": 0.0, "approximate": 0.0}

    def write(self, out: Path, d: int, files: _Files) -> None:
        ds, de = self.period.day_starts[d], self.period.day_starts[d + 1]
        dt = self.dt
        S = -(-(de - ds) // dt)
        t = ds + np.arange(S, dtype=np.int64) * dt
        load = np.zeros((self.n_gpus, S))
        fb = np.zeros((self.n_gpus, S))
        job_of = np.full((self.n_gpus, S), -1, dtype=np.int64)
        spans = []
        for n, start, end, gpus, j in self.holds:
            if end <= ds or start >= de:
                continue
            i0 = int(np.clip(-((ds - start) // dt), 0, S))
            i1 = int(np.clip(-((ds - end) // dt), 0, S))
            for g in gpus:
                row = self.base[n] + g
                load[row, i0:i1] = j.load
                fb[row, i0:i1] = 16384 + round(57344 * j.load)
                job_of[row, i0:i1] = j.raw
                # the busy time a hold-until-next-sample reading gives the job: each sample
                # holds [t, t + dt) clipped to the job's interval
                held = np.clip(np.minimum(t[i0:i1] + dt, end) - np.maximum(t[i0:i1], start), 0, None)
                spans.append((set(j.nodes) <= self.mapped, row, i0, held))
        rng = np.random.default_rng([self.seed, 5000 + d])
        busy = job_of >= 0
        noise = rng.normal(0.0, 0.04, size=load.shape)
        util = np.where(busy, np.clip(np.rint(100.0 * load * (1.0 + noise)), 1, 100),
                        (rng.random(size=load.shape) < 0.03).astype(float))
        power = np.round(np.clip(self.IDLE_W + util / 100.0 * self.BUSY_W + rng.normal(0.0, 2.0, size=load.shape),
                                 0, None), 2)
        for exact, row, i0, held in spans:
            self.busy_s["exact" if exact else "approximate"] += float((util[row, i0:i0 + len(held)] / 100.0 * held).sum())
        values = (util, power, fb)
        times = [str(int(x)) for x in t]
        parts = []
        for n in self.nodes:
            spec = self.specs[n]
            for g in range(spec.gpus):
                row = self.base[n] + g
                labels = (f'"Hostname":"{spec.name}","UUID":"GPU-{self.seed:04x}{n:04x}-{g:04x}-4b1d-9e2a-5c1e0d{row:06x}",'
                          f'"device":"nvidia{g}","gpu":"{g}","instance":"{spec.name}:9400","job":"dcgm",'
                          f'"modelName":"{self.MODEL}"')
                jobs_here = job_of[row] if n in self.mapped else np.full(S, -1, dtype=np.int64)
                for jid in sorted(set(jobs_here.tolist())):
                    at = np.flatnonzero(jobs_here == jid)
                    label = labels + (f',"hpc_job":"{jid}"' if jid >= 0 else "")
                    for metric, vals in zip(self.METRICS, values):
                        body = ",".join(f'[{times[i]},"{vals[row, i]:g}"]' for i in at)
                        parts.append('{"metric":{"__name__":"%s","DCGM_FI_DRIVER_VERSION":"550.54.15",%s},'
                                     '"values":[%s]}' % (metric, label, body))
        day = self.period.day_dates[d].isoformat()
        path = out / "gpu" / f"dcgm-{day}.json"
        path.write_text('{"status":"success","data":{"resultType":"matrix","result":[%s]}}\n' % ",".join(parts),
                        encoding="utf-8")
        files.add(path, "gpu", "dcgm_prometheus_json", series=len(parts), samples=self.n_gpus * S * len(self.METRICS))
        self.rows += self.n_gpus * S
        self.series += len(parts)

    @property
    def quirks(self) -> dict:
        return {"gpu_nodes_mapping_jobs": [self.specs[n].name for n in sorted(self.mapped)]}

    def truth(self) -> dict:
        """Busy GPU-hours of the jobs, each sample held until the next one (``exact``: jobs that
        ran on mapping nodes only; ``approximate``: the others)."""
        return {kind: round(s / 3600.0, 6) for kind, s in self.busy_s.items()}


class _Meters:
    """Cumulative kWh and m3 registers and temperatures read every 15 minutes, driven by the node power."""

    def __init__(self, period: _Period, seed: int):
        self.period = period
        change = period.change_days()
        days = period.days
        if change:
            self.glt_days = {d + k for d in change for k in (-1, 0, 1) if 0 <= d + k < days}
        else:
            self.glt_days = {i for i in range(days) if i % 3 == 1}
        csv_days = [i for i in range(days) if i not in self.glt_days] or list(range(days))
        self.reset_day = csv_days[len(csv_days) // 2]
        self.dup_day = csv_days[0]
        self.registers = dict(METER_START_KWH)
        self.water = dict(WATER_START_M3)
        self.rng = np.random.default_rng([seed, 7001])
        self.value_rng = np.random.default_rng([seed, 7002])
        self.ids = [m["id"] for m in METERS]
        self.midnight: list[dict] = []    # rounded register values at each local midnight and the cutoff
        self.rows = {"csv": 0, "gebaeudeleittechnik": 0, "values": 0}
        self.quirks: dict = {}
        # per year: E_DC and PV output (kWh) of the slots, for the certificate ledger
        self.year_kwh: dict[int, dict[str, float]] = {}

    def day(self, out: Path, d: int, node_kwh: np.ndarray, files: _Files) -> None:
        period = self.period
        ds, de = period.day_starts[d], period.day_starts[d + 1]
        n_slots = len(node_kwh)
        slot_t = ds + np.arange(n_slots, dtype=np.int64) * METER_SLOT_S
        energy = _meter_values(n_slots, slot_t, period.clock, node_kwh * (1 + IT_OVERHEAD), self.rng)
        reading_t = list(slot_t) + ([de] if d == period.days - 1 else [])
        year = self.year_kwh.setdefault(period.day_dates[d].year, {"dc": 0.0, "pv": 0.0})
        year["dc"] += float(np.sum(energy["M-GRID"] + energy["M-PV"] - energy["M-EXPORT"]))
        year["pv"] += float(np.sum(energy["M-PV"]))
        self._values(out, d, reading_t, energy["M-IT"], files)
        values: dict[str, np.ndarray] = {}
        for m in self.ids:
            cum = np.concatenate([[0.0], np.cumsum(energy[m])])
            values[m] = self.registers[m] + cum[: len(reading_t)]
            if m == "M-COOL" and d == self.reset_day:
                # the register restarts from zero two thirds into one slot
                jr = max(1, n_slots // 2)
                before = cum[jr - 1] + (2 / 3) * energy[m][jr - 1]
                values[m][jr:] = cum[jr: len(reading_t)] - before
                self.registers[m] = cum[-1] - before
                self.quirks["meter_reset"] = {"meter_id": m, "between": [_iso(reading_t[jr - 1]), _iso(reading_t[jr])],
                                              "value_after_kwh": round(float(values[m][jr]), 1)}
            else:
                self.registers[m] += cum[-1]
        self.midnight.append({m: round(float(values[m][0]), 1) for m in self.ids})
        if d == period.days - 1:
            self.midnight.append({m: round(float(values[m][-1]), 1) for m in self.ids})
        rows = [(int(t), m, round(float(values[m][k]), 1)) for k, t in enumerate(reading_t) for m in self.ids]
        if d == self.dup_day:
            pos = 4 * len(self.ids) + 1
            rows.insert(pos + 1, rows[pos])
            self.quirks["meter_duplicate"] = {"meter_id": rows[pos][1], "at": _iso(rows[pos][0])}
        day = period.day_dates[d].isoformat()
        if d in self.glt_days:
            text = "Zeitstempel;Zähler;Zählerstand [kWh]\r\n" + "".join(
                f"{period.clock.local(t, '%d.%m.%Y %H:%M:%S')};{m};{f'{v:.1f}'.replace('.', ',')}\r\n"
                for t, m, v in rows)
            path = out / "meters" / f"gebaeudeleittechnik-{day}.csv"
            path.write_bytes(text.encode("cp1252"))
            fmt = "gebaeudeleittechnik"
        else:
            text = "timestamp,meter_id,kwh\n" + "".join(f"{_iso(t)},{m},{v:.1f}\n" for t, m, v in rows)
            path = out / "meters" / f"meters-{day}.csv"
            path.write_text(text, encoding="utf-8")
            fmt = "csv"
        files.add(path, "meters", "meters_csv" if fmt == "csv" else fmt, rows=len(rows))
        self.rows[fmt] += len(rows)

    def _values(self, out: Path, d: int, reading_t: list[int], it_kwh: np.ndarray, files: "_Files") -> None:
        """The day's water registers (m3, from the IT energy) and temperatures (degC) as a values CSV."""
        n = len(reading_t)
        series: dict[str, np.ndarray] = {}
        for m, l_per_kwh in WATER_L_PER_IT_KWH.items():
            cum = np.concatenate([[0.0], np.cumsum(it_kwh * l_per_kwh / 1000.0)])
            series[m] = self.water[m] + cum[:n]
            self.water[m] += cum[-1]
        series.update(_temperatures(n, np.array(reading_t, dtype=np.int64), self.period.clock, self.value_rng))
        ids = [m["id"] for m in VALUE_METERS]
        text = "timestamp,meter_id,value\n" + "".join(
            f"{_iso(t)},{m},{series[m][k]:.3f}\n" if m in WATER_START_M3 else f"{_iso(t)},{m},{series[m][k]:.1f}\n"
            for k, t in enumerate(reading_t) for m in ids)
        path = out / "meters" / f"values-{self.period.day_dates[d].isoformat()}.csv"
        path.write_text(text, encoding="utf-8")
        files.add(path, "meters", "meter_values_csv", rows=n * len(ids))
        self.rows["values"] += n * len(ids)

    def ledgers(self, out: Path, files: "_Files") -> dict[str, dict]:
        """One certificate ledger per year of the period: guarantees of origin and a PPA as shares of
        the year's E_DC, and the PV meter; returns the ledger's figures per year for the manifest."""
        truth = {}
        for year, kwh in sorted(self.year_kwh.items()):
            goo = round(LEDGER_GOO_SHARE * kwh["dc"])
            ppa = round(LEDGER_PPA_SHARE * kwh["dc"])
            doc = {"year": year, "items": [
                _Flow(kind="goo", kwh=goo, id=f"HKN-{year}-000123", issuer="UBA-HKNR", technology="wind",
                      cancelled_on=date(year + 1, 2, 15), unsubsidised=True),
                _Flow(kind="ppa", kwh=ppa, id=f"PPA-{year}-07", counterparty="Windpark Muster GmbH"),
                _Flow(kind="onsite", meter="M-PV"),
            ]}
            path = out / "certificates" / f"{year}.yaml"
            _write_yaml(path, doc)
            files.add(path, "certificates", "certificates_yaml", items=len(doc["items"]))
            truth[str(year)] = {"goo_kwh": goo, "ppa_kwh": ppa, "dc_kwh": round(kwh["dc"], 1),
                                "pv_kwh": round(kwh["pv"], 1),
                                "ref": round((goo + ppa + kwh["pv"]) / kwh["dc"], 4) if kwh["dc"] else None}
        return truth

    def energy_daily(self) -> list[dict]:
        """Per day from the registers at local midnight: E_IT, grid intake, E_DC = grid + PV - export, PUE."""
        out = []
        for d, day in enumerate(self.period.day_dates):
            delta = {m: self.midnight[d + 1][m] - self.midnight[d][m] for m in ("M-IT", "M-GRID", "M-PV", "M-EXPORT")}
            it, grid = delta["M-IT"], delta["M-GRID"]
            dc = grid + delta["M-PV"] - delta["M-EXPORT"]
            out.append({"day": day.isoformat(), "it_kwh": round(it, 1), "grid_kwh": round(grid, 1),
                        "dc_kwh": round(dc, 1), "pue": round(dc / it, 4) if it else None})
        return out


def synthesize(
    out: Path,
    *,
    nodes: int = 56,
    days: int = 14,
    start: date = date(2026, 10, 19),
    interval_s: int = 30,
    gpu_interval_s: int = 300,
    seed: int = 7,
    tz: str = "Europe/Berlin",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a synthetic centre into ``out`` and return (and write as ``out/manifest.json``) its manifest.

    ``progress(step, done, total)`` is called as the work advances: step "jobs" (3 stages), then
    "slurm", "power" and "gpu" (one call per day). ``gpu_interval_s`` is the sampling interval of
    the GPU metrics (DCGM). The same arguments give byte-identical files.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if interval_s < 1 or METER_SLOT_S % interval_s:
        raise ValueError(f"interval_s must divide {METER_SLOT_S} (the meters' 15 minutes)")
    if gpu_interval_s < 1 or 3600 % gpu_interval_s:
        raise ValueError("gpu_interval_s must divide 3600 (an hour)")
    out = Path(out)
    zone = ZoneInfo(tz)
    report = progress or (lambda step, done, total: None)
    rng = np.random.default_rng(seed)
    specs = plan_nodes(nodes)
    day_dates = [start + timedelta(days=i) for i in range(days)]
    day_starts = [_midnight_utc(d, zone) for d in day_dates] + [_midnight_utc(start + timedelta(days=days), zone)]
    period = _Period(tz, zone, day_dates, day_starts, _Clock(zone, day_starts[0] - 86400, day_starts[-1] + 86400))
    for sub in ("inventory", "contracts", "slurm", "power", "meters", "certificates", "gpu"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    files = _Files(out)

    _write_yaml(out / "inventory" / "inventory.yaml", _inventory_doc(specs, start))
    files.add(out / "inventory" / "inventory.yaml", "inventory", "inventory_yaml", nodes=len(specs),
              meters=len(METERS) + len(VALUE_METERS), facility=1)
    contracts = build_contracts(start, days)
    for doc in contracts:
        path = out / "contracts" / f"{doc['contract_id']}.yaml"
        _write_yaml(path, doc)
        files.add(path, "contracts", "contract_yaml", versions=1 + len(doc["amendments"]))

    accounts = _accounts(contracts, period)
    wl = _Workload(specs, accounts, period.clock, period.t0, period.cutoff, rng, day_starts)
    for a in accounts:
        for u in a.users:
            wl.user_uid.setdefault(u, 20000 + int(u[4:]))
    wl.generate()
    report("jobs", 1, 3)
    wl.simulate()
    report("jobs", 2, 3)
    jobs = wl.finish()
    report("jobs", 3, 3)

    # every 4th day comes as sacct --json; the first day is always -P and carries a '|' in a job
    # name, which sacct -P does not escape
    json_days = {i for i in range(days) if i % 4 == 1}
    plain = [j for j in jobs if j.start is not None and j.end is not None and j.end < day_starts[1]
             and j.pin_node is None and j.array_id is None and j.het_off is None]
    pipe_job = plain[0] if plain else None
    if pipe_job is not None:
        pipe_job.name = "prep|train"

    so = _SlurmOut(specs, period.clock, period.cutoff)
    uid_user = {v: k for k, v in wl.user_uid.items()}
    totals_slurm = _write_slurm(out, jobs, so, period, json_days, uid_user, files, report)

    power = _Power(jobs, specs, wl.n_gpu, period, interval_s, seed)
    meters = _Meters(period, seed)
    spp = METER_SLOT_S // interval_s
    for d in range(days):
        sample_t, watts = power.watts(d)
        power.write(out, d, sample_t, watts, files)
        # the meters see all the power, also where the samples have a gap (a data gap, not an outage)
        node_kwh = watts.sum(axis=0).reshape(-1, spp).sum(axis=1) * interval_s / 3.6e6
        meters.day(out, d, node_kwh, files)
        report("power", d + 1, days)
    ledgers = meters.ledgers(out, files)
    gpu = _Gpu(jobs, specs, period, gpu_interval_s, seed)
    for d in range(days):
        gpu.write(out, d, files)
        report("gpu", d + 1, days)

    manifest = _manifest(
        period=period, specs=specs, start=start, interval_s=interval_s, seed=seed, files=files.rows,
        contracts=contracts, jobs=jobs, wl=wl, so=so, totals_slurm=totals_slurm, power=power, meters=meters,
        accounts=accounts, pipe_job=pipe_job, json_days=json_days, ledgers=ledgers, gpu=gpu,
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _manifest(*, period: _Period, specs, start, interval_s, seed, files, contracts, jobs, wl, so, totals_slurm,
              power: _Power, meters: _Meters, accounts, pipe_job, json_days, ledgers: dict,
              gpu: _Gpu) -> dict:
    cutoff, dates = period.cutoff, period.day_dates
    covered = {a for c in contracts for a in c["accounts"]} | {
        a for c in contracts for am in c["amendments"] for a in am.get("accounts", [])}
    pending = [j for j in jobs if j.state == "PENDING"]
    pending_arrays = sorted({j.array_id for j in pending if j.array_id is not None})
    by_area: dict[str, dict] = {}
    for j in jobs:
        if j.start is None:
            continue
        elapsed = (j.end if j.end is not None else cutoff) - j.start
        a = by_area.setdefault(j.area, {"allocations_started": 0, "gpu_hours": 0.0, "cpu_core_hours": 0.0})
        a["allocations_started"] += 1
        a["gpu_hours"] += j.gpus * elapsed / 3600.0
        a["cpu_core_hours"] += j.cpus * elapsed / 3600.0
    for a in by_area.values():
        a["gpu_hours"] = round(a["gpu_hours"], 3)
        a["cpu_core_hours"] = round(a["cpu_core_hours"], 3)
    gpu_capacity_h = wl.n_gpu * GPU_NODE["gpus"] * (cutoff - period.t0) / 3600.0
    versions = sum(1 + len(c["amendments"]) for c in contracts)
    n_slurm = totals_slurm["allocations"] + totals_slurm["steps"]
    n_power = power.samples["csv"] + power.samples["prometheus"]
    n_meter = meters.rows["csv"] + meters.rows["gebaeudeleittechnik"]
    return {
        "generator": "kirz.synth",
        "parameters": {
            "nodes": len(specs), "gpu_nodes": wl.n_gpu, "cpu_nodes": len(specs) - wl.n_gpu, "days": period.days,
            "start": start.isoformat(), "end": dates[-1].isoformat(), "interval_s": interval_s,
            "gpu_interval_s": gpu.dt, "seed": seed,
            "tz": period.tz, "period_start_utc": _iso(period.t0), "export_cutoff_utc": _iso(cutoff),
        },
        "files": files,
        "totals": {
            "files": len(files),
            "allocations": totals_slurm["allocations"],
            "steps": totals_slurm["steps"],
            "slurm_records": n_slurm,
            "node_power_samples": n_power,
            "node_power_samples_csv": power.samples["csv"],
            "node_power_samples_prometheus": power.samples["prometheus"],
            "meter_readings": n_meter,
            "meter_readings_csv": meters.rows["csv"],
            "meter_readings_gebaeudeleittechnik": meters.rows["gebaeudeleittechnik"],
            "contracts": len(contracts),
            "contract_versions": versions,
            "partners": len({c["partner"]["id"] for c in contracts}),
            "inventory_nodes": len(specs),
            "inventory_meters": len(METERS) + len(VALUE_METERS),
            "meter_values": meters.rows["values"],
            "certificate_items": 3 * len(ledgers),
            "gpu_samples": gpu.rows,
            "gpu_series": gpu.series,
        },
        # rows each raw table should hold after ingesting the folder once (nothing here is bad input)
        "raw_rows": {
            "slurm_jobs": n_slurm, "node_power": n_power, "meter_readings": n_meter,
            "inventory_nodes": len(specs), "inventory_meters": len(METERS) + len(VALUE_METERS),
            "inventory_facility": 1, "contract_versions": versions, "meter_values": meters.rows["values"],
            "certificates": 3 * len(ledgers), "gpu_samples": gpu.rows,
        },
        "quirks": {
            "unassigned_accounts": sorted({j.account for j in jobs if j.account not in covered}),
            "jobs_running_at_cutoff": sum(1 for j in jobs if j.state == "RUNNING"),
            "pending_records": sum(1 for j in pending if j.array_id is None) + len(pending_arrays),
            "pending_array_ranges": [
                so.pending_array_record([j for j in pending if j.array_id == aid])[0].job_id for aid in pending_arrays],
            "cancelled_before_start": sum(1 for j in jobs if j.start is None and j.state != "PENDING"),
            "job_name_with_pipe": so.job_id(pipe_job) if pipe_job is not None else None,
            "heterogeneous_jobs": sorted({str(j.het_id) for j in jobs if j.het_off is not None}),
            "array_tasks": sum(1 for j in jobs if j.array_id is not None),
            "jobs_in_repeated_hour": [
                {"job_id": so.job_id(j), "start_local": period.clock.local(j.start),
                 "end_local": period.clock.local(j.end), "start_utc": _iso(j.start), "end_utc": _iso(j.end),
                 "elapsed_s": j.end - j.start}
                for j in wl.dst_jobs],
            "jobs_crossing_month_end": sum(1 for j in jobs if j.start is not None and _crosses_month(j, cutoff, period.clock)),
            "amendments_in_period": [
                {"contract_id": c["contract_id"], "effective_from": am["effective_from"].isoformat(),
                 "fields": sorted(k for k in am if k != "effective_from")}
                for c in contracts for am in c["amendments"] if dates[0] <= am["effective_from"] <= dates[-1]],
            "new_contracts_in_period": [c["contract_id"] for c in contracts if dates[0] < c["valid_from"] <= dates[-1]],
            "json_slurm_days": [dates[i].isoformat() for i in sorted(json_days)],
            "building_export_days": [dates[i].isoformat() for i in sorted(meters.glt_days)],
            "dst_fallback_days": [dates[i].isoformat() for i in period.change_days(fallback_only=True)],
            **power.quirks,
            **meters.quirks,
            **gpu.quirks,
        },
        "truth": {
            "by_usage_area": dict(sorted(by_area.items())),
            "gpu_capacity_hours": round(gpu_capacity_h, 1),
            "gpu_utilisation": round(sum(a["gpu_hours"] for a in by_area.values()) / gpu_capacity_h, 4),
            "energy_daily": meters.energy_daily(),
            "ledgers": ledgers,
            "busy_gpu_hours": gpu.truth(),
        },
    }


def _crosses_month(j: _Job, cutoff: int, clock: _Clock) -> bool:
    e = (j.end if j.end is not None else cutoff) - 1
    return clock.local(j.start, "%Y-%m") != clock.local(max(j.start, e), "%Y-%m")
