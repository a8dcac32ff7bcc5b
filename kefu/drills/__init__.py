"""Reliability drills (issue 5): the real server under ``kill -9``, Redis loss and actor
crashes, driven by careful clients (backoff, resend with the same ``client_msg_id``,
``resume``) and checked against what Redis holds. ``scripts/chaos`` runs
:mod:`kefu.drills.chaos`; ``tests/drills`` runs the rest. See docs/reliability.md."""
