"""docs/scaling.md: its Kubernetes example (a Deployment, KEDA's ScaledObject) is valid YAML."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "scaling.md"


def yaml_blocks():
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_kubernetes_example_parses():
    blocks = yaml_blocks()
    assert blocks, "docs/scaling.md has no yaml block"
    documents = [doc for block in blocks for doc in yaml.safe_load_all(block) if doc is not None]
    kinds = [doc["kind"] for doc in documents]
    assert "ScaledObject" in kinds and "Deployment" in kinds, kinds
    for doc in documents:
        assert doc["apiVersion"] and doc["metadata"]["name"], doc


def test_keda_scales_the_worker_on_the_bullmq_wait_lists():
    documents = [doc for block in yaml_blocks() for doc in yaml.safe_load_all(block) if doc]
    scaled = next(doc for doc in documents if doc["kind"] == "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "whisper-worker"
    lists = {t["metadata"]["listName"] for t in scaled["spec"]["triggers"] if t["type"] == "redis"}
    # relay/cluster/redis.js: prefix "whisper", queues "whisper-any", "whisper-gpu", "whisper-url"; BullMQ's wait list.
    assert lists == {"whisper:whisper-any:wait", "whisper:whisper-gpu:wait", "whisper:whisper-url:wait"}
