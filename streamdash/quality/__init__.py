"""Data-quality monitoring: windowed quality metrics, alert rules and states, webhooks.

``rules`` (the pure rule state machine), ``rule_params`` (rules from settings), ``window``
(sliding-window quality metrics), ``monitor`` (:class:`QualityMonitor`, its own evaluation thread
and read API), ``notify`` (Alertmanager-shaped webhooks from their own thread), ``settings`` (the
``alerts`` section).
"""

from __future__ import annotations

from .monitor import QualityMonitor
from .notify import WebhookNotifier, alertmanager_payload, mask_url
from .rule_params import parse_rules
from .rules import METRICS, AlertState, Rule, step
from .settings import build_monitor, build_notifier

__all__ = ["METRICS", "AlertState", "QualityMonitor", "Rule", "WebhookNotifier",
           "alertmanager_payload", "build_monitor", "build_notifier", "mask_url", "parse_rules",
           "step"]
