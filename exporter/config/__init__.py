"""lagwatch's configuration: the schema (with every validator), loading from YAML and the environment,
secret files, and redaction. `from exporter import config` then `config.load(...)`, `config.Config`."""

from exporter.config.schema import *  # noqa: F401,F403  (the package's public names)
from exporter.config.schema import ConfigError, load, parse, redacted, secret_values  # noqa: F401
