"""Results table and target checks of a bench run (pure: rows in, text and verdicts out)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

MIRROR = "classiclink.mirror"
BASELINE = "amazon.aws"
PASS, FAIL, INFO = "PASS", "FAIL", "info"


def progress_line(row: Dict[str, Any]) -> str:
    return "%-20s %-9s %-22s wall %7.2fs cpu %6.2fs moto %6.2fs rss %6.1f/%6.1f MB calls %5d (%4d mutating) rc=%d" % (
        row["tool"], row["scenario"], _point_name(row["point"]), row["wall_s"], row["cpu_s"], row.get("server_cpu_s", 0.0),
        row["maxrss_mb"], row["tree_rss_mb"], row["calls_total"], row["calls_mutating"], row["rc"])


def _point_name(point: Dict[str, Any]) -> str:
    text = "N=%d M=%d R=%d" % (point["n"], point["m"], point["rules"])
    if point["latency_ms"]:
        text += " %dms" % point["latency_ms"]
    if point["concurrency"]:
        text += " c=%d" % point["concurrency"]
    return text


def _key(point: Dict[str, Any]) -> tuple:
    return (point["n"], point["m"], point["rules"], point["latency_ms"], point["concurrency"])


def _find(rows: List[Dict[str, Any]], tool: str, scenario: str, point: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for row in rows:
        if row["tool"] == tool and row["scenario"] == scenario and _key(row["point"]) == _key(point):
            return row
    return None


def _target(name: str, ok: bool, measured: str, limit: str) -> Dict[str, str]:
    return {"target": name, "status": PASS if ok else FAIL, "measured": measured, "limit": limit}


def evaluate(rows: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The issue's targets, for whatever points this run measured."""
    targets: List[Dict[str, str]] = []
    for row in rows:
        point, where = row["point"], _point_name(row["point"])
        n, m = point["n"], point["m"]
        if row["rc"] != 0:
            targets.append(_target("%s %s %s exits 0" % (row["tool"], row["scenario"], where), False,
                                   "rc=%d (%s)" % (row["rc"], row["log"]), "rc=0"))
        if row["tool"] != MIRROR:
            continue
        scenario = row["scenario"]
        if scenario == "noop":
            targets.append(_target("no-op calls, %s" % where, row["calls_mutating"] == 0 and row["calls_total"] <= 10,
                                   "%d mutating, %d total" % (row["calls_mutating"], row["calls_total"]),
                                   "0 mutating, <= 10 total"))
        elif scenario == "check":
            targets.append(_target("check mode mutates nothing, %s" % where, row["calls_mutating"] == 0,
                                   "%d mutating" % row["calls_mutating"], "0"))
        elif scenario == "converge":
            limit = 3 * n + m
            targets.append(_target("first converge calls, %s" % where,
                                   row["calls_mutating"] <= limit and row["calls_total"] <= limit + 15,
                                   "%d mutating, %d total" % (row["calls_mutating"], row["calls_total"]),
                                   "<= %d mutating, <= %d total" % (limit, limit + 15)))
            extra = row["extra"]
            targets.append(_target("first converge result, %s" % where,
                                   extra.get("mirrors") == n and extra.get("links") == m,
                                   "%s mirrors, %s links" % (extra.get("mirrors"), extra.get("links")),
                                   "%d mirrors, %d links" % (n, m)))
        elif scenario == "drift":
            changed = row["extra"].get("changed_sources", 0)
            targets.append(_target("10%% drift calls, %s" % where, row["calls_mutating"] <= 2 * changed,
                                   "%d mutating for %d changed sources" % (row["calls_mutating"], changed),
                                   "<= %d" % (2 * changed)))
    targets.extend(_speedup_targets(rows))
    targets.extend(_scale_targets(rows))
    targets.extend(_latency_targets(rows))
    targets.extend(_linearity_targets(rows))
    return targets


def _speedup_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    out = []
    for row in rows:
        if row["tool"] != BASELINE:
            continue
        ours = _find(rows, MIRROR, row["scenario"], row["point"])
        if ours is None or ours["wall_s"] <= 0:
            continue
        ratio = row["wall_s"] / ours["wall_s"]
        cpu_ratio = row["cpu_s"] / ours["cpu_s"] if ours["cpu_s"] else 0.0
        target = _target("%s >= 20x faster than amazon.aws, %s" % (row["scenario"], _point_name(row["point"])),
                         ratio >= 20, "%.1fx wall (%.1f s vs %.1f s); %.1fx CPU (%.1f s vs %.1f s)" % (
                             ratio, row["wall_s"], ours["wall_s"], cpu_ratio, row["cpu_s"], ours["cpu_s"]),
                         ">= 20x wall")
        if (row["point"]["n"], row["point"]["m"]) != (50, 10):
            target["status"] = INFO  # the target is set for N=50 M=10; elsewhere the ratio is only shown
        out.append(target)
    return out


def _scale_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    out = []
    for row in rows:
        point = row["point"]
        if row["tool"] != MIRROR or (point["n"], point["m"]) != (1000, 200) or point["latency_ms"]:
            continue
        # issue 12 (was 60 s and 15 s)
        limit = {"converge": 45.0, "noop": 10.0}.get(row["scenario"])
        if limit is not None:
            out.append(_target("%s wall, %s" % (row["scenario"], _point_name(point)), row["wall_s"] < limit,
                               "%.1f s" % row["wall_s"], "< %.0f s" % limit))
        out.append(_target("peak RSS %s, %s" % (row["scenario"], _point_name(point)), row["maxrss_mb"] < 300,
                           "%.0f MB largest process, %.0f MB tree" % (row["maxrss_mb"], row["tree_rss_mb"]), "< 300 MB"))
    return out


def _latency_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    out = []
    for row in rows:
        point = row["point"]
        if row["tool"] != MIRROR or row["scenario"] != "converge" or not point["latency_ms"]:
            continue
        if (point["n"], point["m"], point["latency_ms"]) != (500, 100, 50):
            continue
        out.append(_target("first converge with 50 ms/call, %s" % _point_name(point), row["wall_s"] < 30,
                           "%.1f s" % row["wall_s"], "< 30 s"))
    return out


def _linearity_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """The collection's cost (CPU of the ansible-playbook tree, calls) per group between successive N must
    not grow: the last step's marginal CPU per group <= 2x the first's. Wall time is shown, not judged:
    it includes the emulator."""
    out = []
    for scenario in ("converge", "noop"):
        series = sorted(
            (row["point"]["n"], row) for row in rows
            if row["tool"] == MIRROR and row["scenario"] == scenario and not row["point"]["latency_ms"]
            and row["point"]["concurrency"] is None)
        if len({n for n, _row in series}) < 3:
            continue
        steps = []
        for (n1, r1), (n2, r2) in zip(series, series[1:]):
            if n2 > n1:
                steps.append((n1, n2, 1000.0 * (r2["cpu_s"] - r1["cpu_s"]) / (n2 - n1),
                              1000.0 * (r2["wall_s"] - r1["wall_s"]) / (n2 - n1),
                              (r2["calls_total"] - r1["calls_total"]) / (n2 - n1)))
        if not steps:
            continue
        first, last = steps[0][2], steps[-1][2]
        measured = "; ".join("N %d->%d: %.1f ms CPU/group (wall %.1f ms), %.2f calls/group" % step for step in steps)
        out.append(_target("%s grows linearly in N" % scenario, last <= 2 * max(first, 1.0), measured,
                           "marginal CPU ms/group of the last step <= 2x the first"))
    return out


def _short(task: str) -> str:
    return task.split(" : ", 1)[-1][:60]


def _fmt_row(row: Dict[str, Any]) -> str:
    point = row["point"]
    return "| %s | %s | %d | %d | %d | %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f | %d | %d | %d | %d |" % (
        row["tool"], row["scenario"], point["n"], point["m"], point["rules"], point["latency_ms"] or "-",
        point["concurrency"] or "def", row["wall_s"], row["cpu_s"], row.get("server_cpu_s", 0.0), row["maxrss_mb"], row["tree_rss_mb"],
        row["calls_mutating"], row["calls_total"], row["changed"], row["rc"])


def markdown(document: Dict[str, Any]) -> str:
    info, rows = document["machine"], document["rows"]
    lines = [
        "# classiclink.mirror benchmark",
        "",
        "`%s` -- %s, %s CPUs, Python %s, %s; load average at start %.2f, at end %.2f; %.0f s in all." % (
            info.get("command", "bench.run"), info["date"], info["cpus"], info["python"],
            ", ".join("%s %s" % item for item in info["versions"].items()), info["loadavg_start"][0],
            info.get("loadavg_end", [0])[0], info.get("elapsed_s", 0)),
        "",
        "moto: %s." % (("with the bench emulator corrections (bench/moto_server.py): %s" % ", ".join(
            info.get("moto_fixes") or ["tag-index"])) if info.get("moto_fixes", info.get("moto_tag_index"))
            else "stock (O(groups x tags) tag look-ups)"),
        "",
        "| tool | run | N | M | R | latency ms | concurrency | wall s | CPU s | moto CPU s | max RSS MB | tree RSS MB "
        "| mutating calls | total calls | changed | rc |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [_fmt_row(row) for row in rows]
    lines += ["", "CPU s: user+sys of the ansible-playbook tree; moto CPU s: of the moto harness process (the "
              "emulated AWS) during the run. max RSS: largest single process of the tree "
              "(wait4 ru_maxrss); tree RSS: peak sum over the live tree, sampled every 50 ms. Calls are counted "
              "at the moto server. changed: PLAY RECAP changed= (tasks, not groups).", ""]
    speedups = [t for t in document["targets"] if "faster than amazon.aws" in t["target"]]
    if speedups:
        lines += ["amazon.aws baseline: groups only (no ClassicLink module in amazon.aws or community.aws; "
                  "the sources' mirroredTo tag is not written either).", ""]
    lines += ["## Targets", "", "| target | status | measured | limit |", "| --- | --- | --- | --- |"]
    lines += ["| %(target)s | %(status)s | %(measured)s | %(limit)s |" % t for t in document["targets"]]
    lines += ["", "## Calls by action", ""]
    for row in rows:
        calls = ", ".join("%s %d" % item for item in row["by_action"].items()) or "none"
        lines.append("- %s %s %s: %s" % (row["tool"], row["scenario"], _point_name(row["point"]), calls))
    timed = [row for row in rows if row.get("tasks")]
    if timed:
        lines += ["", "## Slowest tasks (profile_tasks, seconds)", ""]
        for row in timed:
            slowest = sorted(row["tasks"].items(), key=lambda item: -item[1])[:4]
            text = "; ".join("%s %.2f" % (_short(name), sec) for name, sec in slowest)
            lines.append("- %s %s %s: %s" % (row["tool"], row["scenario"], _point_name(row["point"]), text))
    extras = [(row, row["extra"]) for row in rows if row["extra"]]
    if extras:
        lines += ["", "## Notes per run", ""]
        for row, extra in extras:
            text = ", ".join("%s=%s" % item for item in sorted(extra.items()))
            lines.append("- %s %s %s: %s" % (row["tool"], row["scenario"], _point_name(row["point"]), text))
    return "\n".join(lines) + "\n"
