"""Kibana: the saved objects lagwatch ships (Lens panels, dashboards, data views, the alerting rule) and the
client `lagwatch setup` imports them with."""
