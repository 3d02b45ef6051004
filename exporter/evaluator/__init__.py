"""Pure evaluation of lag: window-based statuses (status.py) and threshold/status rules (rules.py)."""
