"""Migration from FreeRADIUS: its SQL database (rlm_sql, rlm_sqlippool) or its
``users`` file and ``clients.conf``, carried into our store in one transaction.

Pipeline: :mod:`.source` (or :mod:`.files`) reads the rows, :mod:`.translate` turns them into
an :class:`~.model.ImportData` plus a :class:`~.model.Report` of what cannot be carried over
(pure functions, no I/O), :mod:`.writer` applies it as idempotent upserts keyed by names and
addresses in one transaction (or computes the counts only, for ``--dry-run``).
"""
