"""Progress in a log (nohup, CI, a cluster job): one plain line per step instead of bars drawn at the end."""

import io

from rich.console import Console

from codesign.progress import PlainProgress, plain_or_rich


def test_a_log_gets_one_line_per_step_with_count_and_eta():
    lines = []
    with PlainProgress(lines.append) as progress:
        task = progress.add_task("trials (nsga2)", total=4)
        progress.update(task, advance=1, description="trials (nsga2) accuracy=0.91")
        progress.update(task, completed=1)  # nothing new: no line
        progress.advance(task)
        progress.update(task, completed=4)
    assert lines[0] == "trials (nsga2): 0/4 (0:00:00 elapsed)"
    assert lines[1] == "trials (nsga2) accuracy=0.91: 1/4 (0:00:00 elapsed, ETA 0:00:00)"
    assert len(lines) == 4 and lines[-1] == "trials (nsga2) accuracy=0.91: 4/4 (0:00:00 elapsed)"


def test_bars_only_on_a_terminal():
    piped = Console(file=io.StringIO())
    assert isinstance(plain_or_rich(piped), PlainProgress)
    assert not isinstance(plain_or_rich(Console(file=io.StringIO(), force_terminal=True)), PlainProgress)
    progress = plain_or_rich(piped)
    progress.add_task("float train accuracy=0.5", total=2)
    assert piped.file.getvalue() == "float train accuracy=0.5: 0/2 (0:00:00 elapsed)\n"
