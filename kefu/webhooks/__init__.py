"""Outbound webhooks (issue 16, item 2): events enter a Redis stream in the same script
as the change (``events.py``), every node's worker delivers them (``delivery.py``) to
the admins' hooks (``kefu/persistence/webhooks.py``) that pass the SSRF rule
(``targets.py``). docs/webhooks.md describes them for the receiving side."""
