"""Secrets: `<name>_file` options (exporter/config/secrets.py), the effective config without them
(redact.py), and every secret value of a config (the log masking itself: test_secrets.py)."""

import yaml

from exporter.config import parse, redacted
from tests.unit.test_config import minimal, problems, sasl

SECRET = "s3cr3t-Do-Not-Print"


def test_secret_file_is_read_and_stripped(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    config = parse(sasl(username="svc", password_file=str(secret)), {})
    assert config.clusters[0].security.password.get_secret_value() == SECRET


def test_secret_file_from_the_environment(tmp_path):
    secret = tmp_path / "es-password"
    secret.write_text(SECRET)
    env = {"LAGWATCH_ELASTICSEARCH__USERNAME": "elastic", "LAGWATCH_ELASTICSEARCH__PASSWORD_FILE": str(secret)}
    assert parse(minimal(), env).elasticsearch.password.get_secret_value() == SECRET


def test_secret_and_secret_file_both_set_is_an_error(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(SECRET)
    found = problems(sasl(username="svc", password="inline", password_file=str(secret)))
    assert ("clusters[0].security.password_file", "set either password or password_file, not both") in found


def test_unreadable_secret_file_is_an_error(tmp_path):
    found = problems(sasl(username="svc", password_file=str(tmp_path / "missing")))
    assert found[0][0] == "clusters[0].security.password_file"
    assert "cannot read secret file" in found[0][1]


def test_redacted_never_shows_secrets():
    raw = sasl(username="svc", password=SECRET, ssl_password=SECRET)
    raw["elasticsearch"] = {"api_key": SECRET}
    config = parse(raw, {})
    dumped = yaml.safe_dump(redacted(config))
    assert SECRET not in dumped
    assert redacted(config)["clusters"][0]["security"]["password"] == "**********"
    assert redacted(config)["elasticsearch"]["api_key"] == "**********"
    assert config.clusters[0].security.client_kwargs()["sasl_plain_password"] == SECRET


def test_redacted_hides_passwords_inside_host_urls():
    raw = minimal()
    raw["elasticsearch"] = {"hosts": [f"https://elastic:{SECRET}@es:9200"]}
    assert SECRET not in yaml.safe_dump(redacted(parse(raw, {})))


def test_every_url_password_is_masked_in_the_effective_config_and_registered_for_logs():
    from exporter.config import secret_values

    raw = minimal() | {
        "elasticsearch": {"hosts": ["https://writer:Es-Pa55word@es:9200"]},
        "kibana": {"url": "https://admin:Kib-Pa55word@kibana:5601"},
        "alerts": {"notifiers": [{"name": "ops", "url": "https://hook:Hook-Pa55word@hooks.example/T1/B2/tok3n"}]},
    }
    config = parse(raw, {})
    shown = yaml.safe_dump(redacted(config))
    for secret in ("Es-Pa55word", "Kib-Pa55word", "Hook-Pa55word", "tok3n"):
        assert secret not in shown
    assert "https://admin:**********@kibana:5601" in shown
    values = secret_values(config)
    assert {"Es-Pa55word", "Kib-Pa55word"} <= set(values)
    assert any("tok3n" in v for v in values)
