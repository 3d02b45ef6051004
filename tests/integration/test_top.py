"""`lagwatch top` against the real broker: the `--once` frame against Kafka's own tool, and the live view
in a real terminal (tmux: keys in with send-keys, the screen read back with capture-pane)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import TopicPartition

from tests.harness import KafkaDriver, consumer_group_command, unique, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def lagwatch(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})},
    )


def number(cell: str) -> int | None:
    return None if cell == "-" else int(cell.replace(",", ""))


def group_lines(frame: str) -> dict[str, list[str]]:
    """The group rows of a frame, by group name (the cells split on blanks; no name here has one)."""
    lines = frame.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("GROUP "))
    return {line.split()[0]: line.split() for line in lines[start + 1:] if line.strip()}


def partition_lines(frame: str) -> dict[tuple[str, int], list[str]]:
    lines = frame.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("TOPIC "))
    return {(c[0], int(c[1])): c for c in (line.split() for line in lines[start + 1:] if line.strip())}


def test_once_frame_shows_every_group_with_the_lag_kafkas_tool_reports(kafka, bootstrap, tmp_path):
    prefix = unique("top")
    orders = kafka.create_topic(f"{prefix}.orders", partitions=3)
    audit = kafka.create_topic(f"{prefix}.audit", partitions=1)
    kafka.produce(orders, {0: 10, 1: 25, 2: 7})
    kafka.produce(audit, {0: 9})
    lagging, caught_up, live, partial = (f"{prefix}-{n}" for n in ("lagging", "caught-up", "live", "partial"))
    kafka.consume(lagging, orders, count=12)
    kafka.consume(caught_up, orders, count=42)
    member = kafka.consume(live, audit, count=4, keep_open=True)
    kafka.commit(partial, {TopicPartition(orders, 0): 3})  # partitions 1 and 2 never committed
    try:
        result = lagwatch("top", "--bootstrap", bootstrap, "--once", "--sort", "name", "--width", "160",
                          "--filter", f"^{re.escape(prefix)}-")
        theirs = consumer_group_command(bootstrap)
    finally:
        member.close(autocommit=False)

    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # not a terminal: plain text
    print(result.stdout)
    ours = group_lines(result.stdout)
    assert list(ours) == sorted([lagging, caught_up, live, partial])  # sorted by name, filtered to ours
    header = next(line for line in result.stdout.splitlines() if line.startswith("GROUP ")).split()
    lag_at = header.index("LAG")  # the titles before it are one word each ("TIME LAG" comes after)
    for group, cells in ours.items():
        rows = [v for k, v in theirs.items() if k[0] == group]
        assert rows, f"Kafka's tool shows no rows for {group}"
        assert number(cells[lag_at]) == sum(r["lag"] for r in rows if r["lag"] is not None), (group, cells)
    assert ours[live][header.index("MEM")] == "1" and ours[live][header.index("STATE")] == "Stable"
    assert ours[caught_up][lag_at] == "0"

    svg = tmp_path / "frame.svg"
    screen = lagwatch("top", "--bootstrap", bootstrap, "--once", "--height", "10", "--width", "80", "--svg", str(svg),
                      "--filter", f"^{re.escape(prefix)}-")
    assert screen.returncode == 0, screen.stderr
    lines = screen.stdout.rstrip("\n").split("\n")
    assert len(lines) == 10 and lines[-1].startswith("q quit") and all(len(line) <= 80 for line in lines)
    assert svg.read_text().startswith("<svg") and prefix in svg.read_text()

    for group in (lagging, partial):
        detail = lagwatch("top", "--bootstrap", bootstrap, "--once", "--group", group, "--width", "120")
        assert detail.returncode == 0, detail.stderr
        print(detail.stdout)
        shown = partition_lines(detail.stdout)
        for (g, topic, partition), expected in theirs.items():
            if g != group:
                continue
            cells = shown[(topic, partition)]
            assert [number(c) for c in cells[2:5]] == [expected["committed"], expected["log_end"], expected["lag"]]
        if group == partial:  # never committed: shown, with no lag (Kafka's tool leaves them out)
            assert [shown[(orders, p)][2] for p in (1, 2)] == ["-", "-"]
            assert [shown[(orders, p)][4] for p in (1, 2)] == ["-", "-"]


def test_once_against_an_unreachable_cluster_says_down_without_a_traceback():
    result = lagwatch("top", "--bootstrap", "127.0.0.1:1", "--once", env={"LAGWATCH_CLUSTERS__0__REQUEST_TIMEOUT_S": "2"})
    assert result.returncode == 1
    assert "127.0.0.1-1: DOWN since" in result.stdout and "Traceback" not in result.stderr + result.stdout


def test_once_quick_form_of_once_prints_the_kafka_style_table(kafka, bootstrap):
    topic = kafka.create_topic(unique("top-once"), partitions=1)
    kafka.produce(topic, {0: 4})
    group = unique("top-once-group")
    kafka.consume(group, topic, count=1)
    result = lagwatch("once", "--bootstrap", bootstrap)
    assert result.returncode == 0, result.stderr
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith(group + " "))
    assert row[:6] == [group, topic, "0", "1", "4", "3"]


# --- a real terminal --------------------------------------------------------------------------


class Terminal:
    """`lagwatch top` in a detached tmux session on a private socket (never the user's tmux server)."""

    def __init__(self, tmux: str, tmp_path: Path, args: list[str], env: dict | None = None, size=(100, 30)):
        self.tmux, self.socket = tmux, str(tmp_path / "tmux.sock")
        self.rc_file, self.err_file = tmp_path / "rc", tmp_path / "stderr"
        command = " ".join(
            [sys.executable, "-m", "exporter.cli", "top", *(f"'{a}'" for a in args),
             f"2>{self.err_file}; echo $? >{self.rc_file}; sleep 600"]
        )
        self._run("new-session", "-d", "-s", "top", "-x", str(size[0]), "-y", str(size[1]), command,
                  env={**os.environ, **(env or {})})

    def _run(self, *args: str, env: dict | None = None) -> str:
        result = subprocess.run([self.tmux, "-S", self.socket, *args], capture_output=True, text=True, timeout=20,
                                cwd=REPO, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "top")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self._run("send-keys", "-t", "top", *(["-l"] if literal else []), *keys)

    def resize(self, width: int, height: int) -> None:
        self._run("resize-window", "-t", "top", "-x", str(width), "-y", str(height))

    def wait(self, check, what: str, timeout: float = 30) -> str:
        def ready():
            screen = self.screen()
            return screen if check(screen) else None
        try:
            return wait_for(ready, timeout=timeout, interval=0.2, what=what)
        except AssertionError:
            raise AssertionError(f"{what}; the screen was:\n{self.screen()}") from None

    def exit_code(self, timeout: float = 15) -> int:
        wait_for(lambda: self.rc_file.exists() and self.rc_file.read_text().strip(), timeout=timeout,
                 what="lagwatch top to exit")
        return int(self.rc_file.read_text())

    def close(self) -> None:
        subprocess.run([self.tmux, "-S", self.socket, "kill-server"], capture_output=True, timeout=20)


def order(screen: str, names: list[str]) -> list[str]:
    """The names in the order their rows appear on the screen."""
    found = [(screen.find(f"\n{name} "), name) for name in names]
    return [name for at, name in sorted(found) if at >= 0]


def test_live_view_in_a_real_terminal_sorts_filters_and_opens_a_group(kafka, bootstrap, tmux_binary, tmp_path):
    prefix = unique("tty")
    topic = kafka.create_topic(f"{prefix}.events", partitions=1)
    kafka.produce(topic, {0: 40})
    alpha, bravo, charlie = f"{prefix}-alpha", f"{prefix}-bravo", f"{prefix}-charlie"
    for group, committed in ((alpha, 35), (bravo, 10), (charlie, 40)):  # lag 5, 30, 0
        kafka.commit(group, {TopicPartition(topic, 0): committed})
    names = [alpha, bravo, charlie]
    term = Terminal(tmux_binary, tmp_path, ["--bootstrap", bootstrap, "--interval", "1", "--filter", f"^{prefix}-"])
    try:
        screen = term.wait(lambda s: all(n in s for n in names), "the three groups on screen")
        assert "lagwatch top" in screen and "sort: lag" in screen and " requests · 0 errors" in screen
        assert order(screen, names) == [bravo, alpha, charlie]  # by lag, largest first
        bravo_row = next(line for line in screen.splitlines() if line.startswith(bravo))
        assert " 30 " in bravo_row

        term.keys("n")
        screen = term.wait(lambda s: "sort: name" in s, "sorted by name")
        assert order(screen, names) == [alpha, bravo, charlie]

        term.keys("/")
        term.keys("char", literal=True)
        term.keys("Enter")
        screen = term.wait(lambda s: f"filter: ^{prefix}-char" in s, "the filter applied")
        assert order(screen, names) == [charlie]

        term.keys("/")
        term.keys(*["BSpace"] * 4, "Enter")
        screen = term.wait(lambda s: all(n in s for n in names), "the filter widened again")

        term.resize(60, 14)  # smaller than 80x24: still a frame, no crash
        term.wait(lambda s: "GROUP" in s and max(len(line) for line in s.splitlines()) <= 60, "a 60-column frame")
        term.resize(100, 30)
        term.wait(lambda s: "CONS/PROD" in s, "the wide frame again")

        term.keys("Down", "Enter")  # the first line is highlighted: down selects the second (bravo), open it
        screen = term.wait(lambda s: "TOPIC" in s and "PART" in s, "the group opened")
        assert f"/ {bravo} · Empty" in screen
        partition = next(line.split() for line in screen.splitlines() if line.startswith(topic))
        assert partition[:5] == [topic, "0", "10", "40", "30"]  # committed, log-end, lag as committed above

        term.keys("Escape")
        term.wait(lambda s: "GROUP" in s and all(n in s for n in names), "back to the groups")
        term.keys("q")
        assert term.exit_code() == 0
        errors = term.err_file.read_text()
        assert "Traceback" not in errors, errors
    finally:
        term.close()


def test_live_view_says_when_the_cluster_goes_away_and_picks_up_again(own_kafka, tmux_binary, tmp_path):
    driver = KafkaDriver(own_kafka.bootstrap)
    topic = driver.create_topic(unique("out"), partitions=1)
    driver.produce(topic, {0: 12})
    group = unique("out")
    driver.commit(group, {TopicPartition(topic, 0): 2})
    driver.close()
    term = Terminal(
        tmux_binary, tmp_path, ["--bootstrap", own_kafka.bootstrap, "--interval", "1"],
        env={"LAGWATCH_CLUSTERS__0__REQUEST_TIMEOUT_S": "2"},
    )
    try:
        term.wait(lambda s: group in s and " scrape " in s, "the group on screen")
        own_kafka.stop(keep_files=True)
        screen = term.wait(lambda s: "DOWN since" in s, "the header saying the cluster is down", timeout=45)
        assert "(stale)" in screen and group in screen  # the last rows stay, said to be old
        own_kafka.restart()
        screen = term.wait(lambda s: "DOWN" not in s and " scrape " in s and group in s, "the cluster back", timeout=90)
        row = next(line.split() for line in screen.splitlines() if line.startswith(group))
        assert "10" in row  # lag 12 - 2, read again after the restart
        term.keys("q")
        assert term.exit_code() == 0
        assert "Traceback" not in term.err_file.read_text()
    finally:
        term.close()
