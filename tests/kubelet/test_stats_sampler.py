"""kubelet/server/stats.py's StatsSampler: CPU rates for `kubectl top` averaged over at least a
second of samples, so a burst of scrapes does not turn a steady load into noise."""

from __future__ import annotations

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.server.stats import StatsSampler

S = 1_000_000_000


def sample(at_s: float, cpu_s: float, cid: str = "c1") -> cri.ContainerStats:
    at, cpu = int(at_s * S), int(cpu_s * S)
    attributes = cri.ContainerAttributes(cid, cri.ContainerMetadata("main"))
    return cri.ContainerStats(attributes, cri.CpuUsage(at, cpu), cri.MemoryUsage(at, 0))


def test_first_sample_is_the_average_since_the_start():
    assert StatsSampler().rate(sample(100, 5), started_at=90 * S) == S // 2


def test_the_rate_is_over_at_least_the_minimum_interval():
    sampler = StatsSampler(window=15, min_interval=1)
    sampler.rate(sample(100, 10), started_at=0)
    # 0.01 s later the CPU counter jumped by a whole quota period: not a 10-core rate
    assert sampler.rate(sample(100.01, 10.1), started_at=99 * S) < 20 * S
    assert sampler.rate(sample(102, 11), started_at=99 * S) == S // 2  # since the sample of 100 s


def test_a_sample_older_than_the_window_still_serves_when_it_is_the_only_one():
    sampler = StatsSampler(window=15, min_interval=1)
    sampler.rate(sample(100, 10), started_at=0)
    assert sampler.rate(sample(160, 40), started_at=0) == S // 2


def test_a_counter_reset_falls_back_to_the_average_since_start():
    sampler = StatsSampler()
    sampler.rate(sample(100, 50), started_at=0)
    assert sampler.rate(sample(110, 1), started_at=108 * S) == S // 2


def test_machine_usage_reads_busy_cpu_and_memory_from_proc(tmp_path):
    from kybernetes.kubelet.runtime.runc import machine_stats

    (tmp_path / "stat").write_text("cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    (tmp_path / "meminfo").write_text("MemTotal:       2048 kB\nMemFree:  100 kB\nMemAvailable:   512 kB\n")
    tick = 1_000_000_000 // __import__("os").sysconf("SC_CLK_TCK")
    assert machine_stats.cpu_busy_ns(tmp_path) == (100 + 5 + 50 + 3 + 2) * tick  # not idle, not iowait
    assert machine_stats.memory_working_set_bytes(tmp_path) == (2048 - 512) * 1024
