"""lvsd: the supervisor between lvs.cf, the health checks and the data plane.

* build.py — lvs.cf -> `Plan` (the services lvsd sets up; pure)
* reload.py — old plan vs new plan -> operations (pure; SIGHUP done right)
* slots.py — one configured real server: health verdicts, drains -> wanted weight
* supervisor.py — `Lvsd`: the table, the backend, monitor tasks, sorry servers, timers;
  with reloading.py (applying a reload) and operations.py (what the control ops ask)
* control.py, views.py — the control socket's ops and their JSON
* converge.py — many table changes, one ``backend.converge()``
* preflight.py — start-up checks with the command that fixes each finding
* history.py, watch.py, notify.py, teststart.py — history samples, autoreload,
  non-blocking sd_notify, ``--test-start``

The daemon's manual is docs/lvsd.md.
"""
