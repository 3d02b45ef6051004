"""A Kafka broker and an Elasticsearch node with authentication and TLS on, for tests/integration/test_security.py
(started once per session by the secure_stack and api_key_gateway fixtures of tests/conftest.py).

Everything is made fresh per test session: a CA and certificates (openssl), random passwords, SCRAM
credentials (Kafka's admin API), file-realm users and a role (Elasticsearch's own `elasticsearch-users` tool
and roles.yml). The integ-test-zip cannot create API keys (no analysis-common for the .security index), so
ApiKeyGateway puts nginx in front of the node to check one. Nothing secret is fixed in the repository.

Kafka listeners (one broker, all on 127.0.0.1):
  PLAINTEXT       no auth: the harness itself (readiness check, producing, committing)
  SASL_PLAINTEXT  PLAIN and SCRAM-SHA-512
  SASL_SSL        PLAIN and SCRAM-SHA-512 over TLS
  SSL             TLS, server certificate only
  MTLS            TLS with a client certificate required (security protocol SSL)

Modules: common (identities, passwords, running a setup tool), pki (the CA and certificates), secure_kafka,
secure_es, gateway (nginx checking an API key), stack (Kafka and Elasticsearch together, with their secrets).
"""
