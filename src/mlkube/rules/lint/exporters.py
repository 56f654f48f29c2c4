"""What GPU exporters and model servers publish, as Prometheus scrapes it.

A catalogue, not a rule: the autoscaling rules and the prometheus-adapter emulation
ask it whether a metric name exists somewhere.
"""

from __future__ import annotations

import re

# dcgm-exporter's default and profiling (DCP) counters. Its counter list is a CSV the
# operator can extend, so any well-formed DCGM field name counts as exported too.
DCGM_EXPORTER_METRICS = frozenset(
    {
        "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP",
        "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ENC_UTIL",
        "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_SM_OCCUPANCY",
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE",
        "DCGM_FI_PROF_PIPE_FP64_ACTIVE", "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
        "DCGM_FI_PROF_PIPE_FP16_ACTIVE", "DCGM_FI_PROF_PCIE_TX_BYTES",
        "DCGM_FI_PROF_PCIE_RX_BYTES", "DCGM_FI_PROF_NVLINK_TX_BYTES",
        "DCGM_FI_PROF_NVLINK_RX_BYTES",
    }
)  # fmt: skip
_DCGM_FIELD = re.compile(r"DCGM_FI_[A-Z0-9_]+")
# dcgm-exporter 1.x names, exported today only in its opt-in compatibility mode.
DCGM_1X_NAMES = {
    "dcgm_gpu_utilization": "DCGM_FI_DEV_GPU_UTIL",
    "dcgm_mem_copy_utilization": "DCGM_FI_DEV_MEM_COPY_UTIL",
    "dcgm_fb_used": "DCGM_FI_DEV_FB_USED",
    "dcgm_fb_free": "DCGM_FI_DEV_FB_FREE",
    "dcgm_power_usage": "DCGM_FI_DEV_POWER_USAGE",
    "dcgm_gpu_temp": "DCGM_FI_DEV_GPU_TEMP",
    "dcgm_sm_clock": "DCGM_FI_DEV_SM_CLOCK",
    "dcgm_fi_prof_gr_engine_active": "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
}
# AMD device-metrics-exporter (optionally prefixed amd_), Triton and vLLM.
AMD_EXPORTER_METRICS = frozenset(
    {
        "gpu_gfx_activity", "gpu_umc_activity", "gpu_mm_activity", "gpu_used_vram",
        "gpu_free_vram", "gpu_total_vram", "gpu_package_power", "gpu_average_package_power",
        "gpu_power_usage", "gpu_edge_temperature", "gpu_junction_temperature",
        "gpu_memory_temperature", "gpu_clock", "gpu_prof_sm_active",
        "gpu_prof_tensor_active_percent", "gpu_prof_occupancy_percent",
    }
)  # fmt: skip
_SERVER_GPU_PREFIXES = ("nv_gpu_", "vllm:")


def looks_like_gpu_metric(name: str) -> bool:
    lower = name.lower()
    return "gpu" in lower or lower.startswith("dcgm")


def exported_gpu_metric(name: str) -> bool:
    """Whether some GPU exporter or model server publishes a series of this name."""
    return bool(
        name in DCGM_EXPORTER_METRICS
        or _DCGM_FIELD.fullmatch(name)
        or name.removeprefix("amd_") in AMD_EXPORTER_METRICS
        or name.startswith(_SERVER_GPU_PREFIXES)
    )
