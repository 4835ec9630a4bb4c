"""Records and events shared by the policy and the store (one floor above the codec).

What crosses from the decisions (``radiusd.policy``) to the rows (``radiusd.store``) and the
domains (``ipam``, ``inventory``) lives here, so that neither side imports the other: the
request a handler sees (:mod:`.request`), session states and their undo record
(:mod:`.sessions`), accounting events (:mod:`.events`), stored credentials
(:mod:`.credentials`) and what the group-commit writer accepts (:mod:`.writes`). Nothing
here does I/O; every module imports only the codec, the standard library and its own floor.
"""
