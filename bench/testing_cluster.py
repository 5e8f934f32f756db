"""How long kybernetes.testing.Cluster takes to start and stop (issue 7: goal < 0.5 s).

Prints the figures for a cluster with no nodes, one node and three nodes, beside the raw
baseline of the apiserver alone (TestApiServer) measured in the same run; the last line is one
JSON object with every figure. --quick runs fewer rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from kybernetes.testing import Cluster, TestApiServer


async def timed(factory, rounds: int) -> dict[str, float]:
    starts, stops = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        thing = factory()
        await thing.start()
        t1 = time.perf_counter()
        await thing.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return {"start_p50_s": round(statistics.median(starts), 4), "start_max_s": round(max(starts), 4),
            "stop_p50_s": round(statistics.median(stops), 4),
            "start_stop_p50_s": round(statistics.median(a + b for a, b in zip(starts, stops, strict=True)), 4)}


async def main(rounds: int) -> dict:
    results = {"apiserver_only_baseline": await timed(TestApiServer, rounds)}
    for nodes in (0, 1, 3):
        results[f"cluster_{nodes}_nodes"] = await timed(lambda n=nodes: Cluster(nodes=n), rounds)
    base = results["apiserver_only_baseline"]["start_stop_p50_s"]
    for key, value in results.items():
        if key.startswith("cluster"):
            value["ratio_to_apiserver_only"] = round(value["start_stop_p50_s"] / base, 2) if base else None
            value["goal_under_0_5_s"] = value["start_stop_p50_s"] < 0.5
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 10")
    args = parser.parse_args()
    out = asyncio.run(main(3 if args.quick else 10))
    for name, figures in out.items():
        print(f"{name:28} start p50 {figures['start_p50_s'] * 1000:7.1f} ms   "
              f"stop p50 {figures['stop_p50_s'] * 1000:7.1f} ms   "
              f"start+stop p50 {figures['start_stop_p50_s'] * 1000:7.1f} ms")
    print(json.dumps({"benchmark": "testing_cluster", **out}))
