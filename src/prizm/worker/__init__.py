"""Job runs spread over worker processes with Celery, and the scheduler feeding them.

Messages carry only a run id. The run's row in the store is the source of truth:
a worker claims it, resolves the connector's references itself at run time, and
records the outcome. See ``claims`` for what happens when a worker is lost.
"""
