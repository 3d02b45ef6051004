"""lagwatch's configuration: `from exporter import config` then `config.load(...)`, `config.Config`.

One job a module: schema.py (the root and the small sections) with kafka.py, elasticsearch.py, alerts.py and
coordination.py (the sections, each validating itself; base.py their shared validators), env.py (the
LAGWATCH_* overlay), secrets.py (secret files, secret values), problems.py (ConfigError: field path +
message), redact.py (the effective config without secrets), load.py (YAML and environment to a Config, via
yaml_input.py), paths.py (the state directory). This package imports nothing else of lagwatch's.
"""

from exporter.config.alerts import AlertMatchFields, AlertsConfig, NotifierConfig, StatusRuleConfig, ThresholdRuleConfig
from exporter.config.coordination import CoordinationConfig
from exporter.config.elasticsearch import (
    DeliveryConfig, ElasticsearchConfig, KibanaConfig, OpenSearchConfig, SpoolConfig, StoreConfig,
)
from exporter.config.env import ENV_NESTING, ENV_PREFIX, apply_env
from exporter.config.kafka import (
    DEFAULT_PROBE_AGES_S, Cluster, Granularity, KafkaSecurity, NameFilter, RecordsPerMessage, Scrape,
    SecurityProtocol, TimeLagConfig, parse_shard,
)
from exporter.config.load import load, parse
from exporter.config.problems import ConfigError
from exporter.config.redact import redacted
from exporter.config.schema import Config, HttpConfig, LogConfig
from exporter.config.secrets import secret_values

__all__ = [
    "AlertMatchFields", "AlertsConfig", "Cluster", "Config", "ConfigError", "CoordinationConfig",
    "DEFAULT_PROBE_AGES_S", "DeliveryConfig", "ENV_NESTING", "ENV_PREFIX", "ElasticsearchConfig", "Granularity",
    "HttpConfig", "KafkaSecurity", "KibanaConfig", "LogConfig", "NameFilter", "NotifierConfig", "OpenSearchConfig",
    "RecordsPerMessage", "Scrape", "SecurityProtocol", "SpoolConfig", "StoreConfig", "StatusRuleConfig",
    "ThresholdRuleConfig", "TimeLagConfig", "apply_env",
    "load", "parse", "parse_shard", "redacted", "secret_values",
]
