"""Peak resident memory, shared by the benchmark scripts (ours and RecBole's venv alike)."""
import resource


def peak_rss_mb() -> float:
    """Peak resident memory of THIS process image: VmHWM resets at exec, unlike ru_maxrss, which a
    child started from a large parent inherits."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
