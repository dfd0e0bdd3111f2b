"""Gather every benchmark's latest result into docs/performance.md."""

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    sections = sorted(RESULTS.glob("*.md")) if RESULTS.is_dir() else []
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Performance\n",
        f"Written by `make bench` on {stamp}. Each figure stands beside its anchor, "
        "measured in the same run on the same machine (2 cores).\n",
    ]
    parts += [section.read_text().strip() + "\n" for section in sections]
    if not sections:
        parts.append("No benchmark has been run yet.\n")
    (ROOT / "docs" / "performance.md").write_text("\n".join(parts))
    print(f"docs/performance.md: {len(sections)} benchmark section(s)")


if __name__ == "__main__":
    main()
