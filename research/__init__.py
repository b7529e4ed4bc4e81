"""Research tools on top of the engine: reproducible batches of games (sweeps, tournaments, balance
checks) on any concurrent.futures Executor, and multi-agent learning environments."""
