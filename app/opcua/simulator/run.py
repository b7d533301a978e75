"""Run a simulated line until its work order is through (what ``mes simulate`` does)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from app.opcua.simulator.line import LineConfig, SimulatedLine, score
from app.opcua.supervisor import quiet_asyncua_logging

logger = logging.getLogger(__name__)


async def run_simulated_line(config: LineConfig, *, truth_path: Path | None = None) -> dict[str, object]:
    """Start the gateway, feed the work order, stop; return a summary (ground truth written to ``truth_path``)."""
    quiet_asyncua_logging()
    line = SimulatedLine(config)
    if truth_path is not None:
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        truth_path.write_text(
            json.dumps(
                {
                    serial: {
                        "faults": sorted(unit.faults),
                        "near_limit": unit.near_limit,
                        "expected_failing_station": unit.expected_failing_station,
                    }
                    for serial, unit in line.truth.items()
                },
                indent=1,
            )
        )
    await line.start()
    logger.info("simulated %s serving %s", config.line_id, config.endpoint_url)
    try:
        outcomes = await line.run()
    finally:
        await line.stop()
    return {
        "endpoint_url": config.endpoint_url,
        "units": len(outcomes),
        "outcomes": dict(Counter(o.result for o in outcomes.values())),
        "results_published": dict(line.results_published),
        "confusion_matrix": score(truth=line.truth, outcomes=outcomes),
    }
