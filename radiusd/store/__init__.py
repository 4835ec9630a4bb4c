"""Storage: models, engine, migrations, CRUD for the CLI, snapshot loaders for the daemon.

See docs/store-contract.md. Import the submodules you need (``radiusd.store.nas`` ...): this
package imports nothing at import time, so ``import radiusd`` stays cheap for the codec.
"""
